package sitetest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/report"
	"github.com/patchlab/patchlab/model/webfmt"
)

// TestReportKitZip runs the Michelle case, downloads the report kit and
// unzips it: the PNG is 16 cm at 300 dpi (1890 px wide), the SVG is SVG
// with a cell per value, the Markdown tables are tables, the text files
// are what model/report writes for the same analysis run natively on the
// same weights, and record.json is the JSON export.
func TestReportKitZip(t *testing.T) {
	e := setup(t)
	g := e.golden.find("michelle")
	tb := newTab(t, e)
	tb.open("?workers=2", 2)
	tb.runAndWait()

	data := tb.download("export-kit")
	artifact(t, "patchlab-report-kit.zip", data)
	files := unzipKit(t, data)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"heatmap.png", "heatmap.svg", "heatmap.tex", "heatmap.txt", "record.json", "tables.md", "tables.tex"}; !slices.Equal(names, want) {
		t.Fatalf("the kit holds %q, want %q", names, want)
	}

	// The PNG at print resolution.
	img, err := png.Decode(bytes.NewReader(files["heatmap.png"]))
	if err != nil {
		t.Fatalf("heatmap.png: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 1890 || h < 600 || h > 2400 {
		t.Errorf("heatmap.png is %d×%d px, want 1890 px wide", w, h)
	}
	artifact(t, "patchlab-kit-heatmap.png", files["heatmap.png"])

	// The SVG: well-formed, 16 cm wide, the title with both texts, a cell per value.
	hm := eval[struct{ Rows, Cols int }](tb, `patchlab.heatmap()`)
	svg := string(files["heatmap.svg"])
	dec := xml.NewDecoder(strings.NewReader(svg))
	rects, texts := 0, []string{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("heatmap.svg is not XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if x.Name.Local == "rect" && slices.ContainsFunc(x.Attr, func(a xml.Attr) bool { return a.Name.Local == "fill" && strings.HasPrefix(a.Value, "rgb(") }) {
				rects++
			}
		case xml.CharData:
			texts = append(texts, string(x))
		}
	}
	if rects != hm.Rows*hm.Cols {
		t.Errorf("heatmap.svg has %d coloured cells, the heatmap %d×%d", rects, hm.Rows, hm.Cols)
	}
	title := strings.Join(texts, "\n")
	for _, want := range []string{`Activation patching, resid_post (and embed): logit_diff = logit(" Smith") − logit(" Jones")`, `clean: "` + g.Clean + `"`, `corrupted: "` + g.Corrupted + `"`} {
		if !strings.Contains(title, want) {
			t.Errorf("heatmap.svg does not say %q", want)
		}
	}
	if !strings.Contains(svg, `width="16cm"`) {
		t.Errorf("heatmap.svg is not 16 cm wide: %.300s", svg)
	}

	// record.json is the JSON export.
	if export := tb.download("export-json"); !bytes.Equal(files["record.json"], export) {
		t.Errorf("record.json differs from the JSON export")
	}

	// The text is model/report's for the same analysis, run natively on
	// the same web-format weights.
	dir := filepath.Join(e.dist, "weights")
	m, err := webfmt.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := os.ReadFile(filepath.Join(dir, webfmt.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := webfmt.ParseManifest(mf)
	if err != nil {
		t.Fatal(err)
	}
	tok := bpe.New()
	a, err := analysis.New(m, tok, analysis.Request{Clean: g.Clean, Corrupted: g.Corrupted, CleanTarget: g.CleanTarget, CorruptedTarget: g.CorruptedTarget})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := a.Record(tok, nil, patch.LogitDiff)
	if err != nil {
		t.Fatal(err)
	}
	kit := report.Kit{Record: rec, Model: report.ModelName(m.Config, manifest.Bits), Metric: patch.LogitDiff, Direction: report.Denoising,
		Heatmaps: []report.Heatmap{{File: "heatmap", Site: patch.Site{Kind: gpt2.ResidPost}, WithEmbed: true, Rows: "layer", Cols: "position"}}}
	for _, f := range kit.Files() {
		if got := string(files[f.Name]); got != f.Text {
			t.Errorf("%s differs from model/report's for the native analysis:\n%s\nwant\n%s", f.Name, got, f.Text)
		}
	}

	// The Markdown tables render as tables: a head, the delimiter row, and
	// rows of as many cells; the top-20 tables list the record's tokens.
	tables := markdownTables(t, string(files["tables.md"]))
	if len(tables) != 3 || len(tables[0]) != 20 || len(tables[1]) != 20 || len(tables[2]) != len(g.CleanIDs) {
		t.Fatalf("tables.md has %d tables of %v rows, want 20, 20 and %d", len(tables), lens(tables), len(g.CleanIDs))
	}
	var exported analysis.Record
	if err := json.Unmarshal(files["record.json"], &exported); err != nil {
		t.Fatal(err)
	}
	for i, e := range exported.CleanTop20 {
		if id := tables[0][i][1]; id != strconv.Itoa(int(e[0].(float64))) {
			t.Errorf("tables.md clean row %d: token index %s, record.json %v", i+1, id, e[0])
		}
	}
	if row := tables[2][1]; !strings.HasPrefix(row[0], "**") || !strings.Contains(row[1], "Jones") || !strings.Contains(row[3], "Smith") {
		t.Errorf("the tokenization's position 1 (where the texts differ, in bold): %q", row)
	}

	// Another view, of heads, in another metric: its own caption and figure.
	eval[chromedp.Void](tb, `(() => { const s = document.getElementById("site"); s.value = "z"; s.dispatchEvent(new Event("change")); const m = document.getElementById("metric"); m.value = "normalized"; m.dispatchEvent(new Event("change")); })()`)
	tb.wait("the z sweep", `!patchlab.status().running && patchlab.heatmap() && patchlab.heatmap().computed === patchlab.heatmap().rows`, 60*time.Second)
	files = unzipKit(t, tb.download("export-kit"))
	if txt := string(files["heatmap.txt"]); !strings.Contains(txt, "patching of z in") || !strings.Contains(txt, "the normalized logit difference") || !strings.Contains(txt, "column's head (patched at every position)") {
		t.Errorf("the z kit's caption: %q", txt)
	}
	if img, err := png.Decode(bytes.NewReader(files["heatmap.png"])); err != nil || img.Bounds().Dx() != 1890 {
		t.Errorf("the z kit's heatmap.png: %v", err)
	}
	// (The title wraps as the canvas wraps it: its parts may be on two lines.)
	if svg := string(files["heatmap.svg"]); !strings.Contains(svg, "Activation patching, z: normalized =") || !strings.Contains(svg, "(Δ clean − Δ corrupted)") {
		t.Errorf("the z kit's SVG title: %.600s", svg)
	}
}

// markdownTables parses the GitHub-flavoured Markdown tables of md: each
// a head row, a delimiter row of as many cells (---, --:), and body rows
// of as many cells; cells split on | not escaped. It returns the bodies.
func markdownTables(t *testing.T, md string) [][][]string {
	t.Helper()
	delim := regexp.MustCompile(`^:?-+:?$`) // GFM: a hyphen or more, colons for alignment
	cells := func(line string) []string {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || strings.HasSuffix(line, `\|`) {
			return nil
		}
		var out []string
		var cur strings.Builder
		inner := line[1 : len(line)-1]
		for i := 0; i < len(inner); i++ {
			switch {
			case inner[i] == '\\' && i+1 < len(inner):
				cur.WriteByte(inner[i])
				cur.WriteByte(inner[i+1])
				i++
			case inner[i] == '|':
				out = append(out, strings.TrimSpace(cur.String()))
				cur.Reset()
			default:
				cur.WriteByte(inner[i])
			}
		}
		return append(out, strings.TrimSpace(cur.String()))
	}
	lines := strings.Split(md, "\n")
	var tables [][][]string
	for i := 0; i < len(lines); i++ {
		head := cells(lines[i])
		if head == nil {
			continue
		}
		if i+1 >= len(lines) {
			t.Fatalf("tables.md line %d: a table row with no delimiter row after it", i+1)
		}
		sep := cells(lines[i+1])
		if len(sep) != len(head) || slices.ContainsFunc(sep, func(s string) bool { return !delim.MatchString(s) }) {
			t.Fatalf("tables.md line %d: %q is no delimiter row for %d columns", i+2, lines[i+1], len(head))
		}
		var body [][]string
		for i += 2; i < len(lines) && cells(lines[i]) != nil; i++ {
			row := cells(lines[i])
			if len(row) != len(head) {
				t.Fatalf("tables.md line %d: %d cells, the head has %d: %q", i+1, len(row), len(head), lines[i])
			}
			body = append(body, row)
		}
		if i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			t.Fatalf("tables.md line %d: a table must end with a blank line, not %q", i+1, lines[i])
		}
		tables = append(tables, body)
	}
	return tables
}

func lens(tables [][][]string) []int {
	var n []int
	for _, tb := range tables {
		n = append(n, len(tb))
	}
	return n
}

func unzipKit(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("the report kit is not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r) // checks the CRC-32
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return files
}

// TestModelDetailsCheck serves the weights with each result of the
// published-numbers check recorded in their manifest (and none): the model
// details name the model by the engine's name and say whether it was
// checked, or why not.
func TestModelDetailsCheck(t *testing.T) {
	e := setup(t)
	manifest, err := os.ReadFile(filepath.Join(e.dist, "weights", webfmt.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	with := func(c *webfmt.Check) []byte {
		var m map[string]any
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatal(err)
		}
		m["check"] = c
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srv := newFaultServer(e)
	defer srv.Close()
	tb := newTab(t, e)
	tb.origin = srv.URL
	for _, c := range []struct {
		name     string
		manifest []byte
		says     string
	}{
		{"none recorded", manifest, " · not checked · "},
		{"passed", with(&webfmt.Check{Result: "passed", Against: "the assignment", Checks: 45, Detail: "passed: 45 checks"}), " · checked against the published GPT-2 numbers · "},
		{"failed", with(&webfmt.Check{Result: "failed", Against: "the assignment", Checks: 45, Detail: `failed 1 of 45 checks against the assignment: top-20 rank 2 " Jones" p = 0.2000, published 0.1396`}),
			` · failed the check against the published GPT-2 numbers: failed 1 of 45 checks against the assignment: top-20 rank 2 " Jones" p = 0.2000, published 0.1396 · `},
		{"skipped", with(&webfmt.Check{Result: "skipped", Against: "the assignment", Detail: "skipped: not GPT-2 small: this model has 4 layers"}), " · not checked against the published GPT-2 numbers: not GPT-2 small · "},
	} {
		srv.set(map[string]http.HandlerFunc{"/weights/manifest.json": serveBytes("application/json", c.manifest)})
		tb.do(chromedp.Navigate(srv.URL + "/?workers=1&sw=0"))
		tb.wait("the model", `window.patchlab && patchlab.status().ready && / · ready · /.test(patchlab.status().modelStatus)`, 60*time.Second)
		st := eval[string](tb, `patchlab.status().modelStatus + " | " + document.getElementById("model-detail").textContent`)
		if !strings.HasPrefix(st, "A 4-layer test model · ready") || !strings.Contains(st, strings.TrimSuffix(c.says, " · ")) {
			t.Errorf("%s: the model status and details say %q, want the engine's name and %q", c.name, st, c.says)
		}
		t.Logf("%s: %q", c.name, st)
	}
}
