package sitetest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/webfmt"
)

// pageSweep is window.patchlab.sweep(site): cells as [clean, corrupted, lse] triples.
type pageSweep struct {
	Rows, Cols int
	Done       []int
	Cells      []*float64
}

func (s pageSweep) diffs(t *testing.T) [][]float64 {
	t.Helper()
	out := make([][]float64, s.Rows)
	for r := range out {
		if s.Done[r] != 1 {
			t.Fatalf("row %d is not done", r)
		}
		for c := 0; c < s.Cols; c++ {
			i := (r*s.Cols + c) * 3
			out[r] = append(out[r], *s.Cells[i+1]-*s.Cells[i])
		}
	}
	return out
}

func readSweep(tb *tab, site string) pageSweep {
	tb.t.Helper()
	return eval[pageSweep](tb, fmt.Sprintf(`patchlab.sweep(%q)`, site))
}

// worst is the largest |got − want| over two matrices of one shape.
func worst(t *testing.T, name string, got, want [][]float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
	}
	w := 0.0
	for r := range want {
		if len(got[r]) != len(want[r]) {
			t.Fatalf("%s: row %d has %d columns, want %d", name, r, len(got[r]), len(want[r]))
		}
		for c := range want[r] {
			w = math.Max(w, math.Abs(got[r][c]-want[r][c]))
		}
	}
	return w
}

// nativeWebFormat is the same analysis run natively on the same web-format weights.
func nativeWebFormat(t *testing.T, e *env, g fixture.Case) (resid [][]float64, embed []float64, a *analysis.Analysis) {
	t.Helper()
	m, err := webfmt.Load(filepath.Join(e.dist, "weights"))
	if err != nil {
		t.Fatal(err)
	}
	a, err = analysis.New(m, bpe.New(), analysis.Request{Clean: g.Clean, Corrupted: g.Corrupted, CleanTarget: g.CleanTarget, CorruptedTarget: g.CorruptedTarget})
	if err != nil {
		t.Fatal(err)
	}
	sweep := func(k gpt2.SiteKind) [][]float64 {
		mx, err := a.Session.Sweep(context.Background(), patch.Site{Kind: k}, patch.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := a.Session.Values(mx, patch.LogitDiff)
		return analysis.Rows(v, mx.Cols)
	}
	return sweep(gpt2.ResidPost), sweep(gpt2.Embed)[0], a
}

// TestWebFormatMichelle runs the default (the assignment's Michelle case) on the
// web-format weights beside the page in two workers, and compares the
// heatmap with the same web-format model run natively (they must agree to
// float rounding) and with the float64 golden values (every cell within 2%
// of the golden heatmap's range, patchlab's promise for the web format).
func TestWebFormatMichelle(t *testing.T) {
	e := setup(t)
	g := e.golden.find("michelle")
	tb := newTab(t, e)
	tb.open("?workers=2", 2)
	tb.runAndWait()

	resid := readSweep(tb, "resid_post").diffs(t)
	embed := readSweep(tb, "embed").diffs(t)[0]
	nResid, nEmbed, a := nativeWebFormat(t, e, g)
	if w := worst(t, "resid_post", resid, nResid); w > 1e-4 {
		t.Errorf("resid_post: the page and the native engine differ by %g on the same web-format weights", w)
	}
	if w := worst(t, "embed", [][]float64{embed}, [][]float64{nEmbed}); w > 1e-4 {
		t.Errorf("embed: the page and the native engine differ by %g on the same web-format weights", w)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range append([][]float64{g.PatchEmbed}, g.PatchResidPost...) {
		for _, v := range row {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	wr, we := worst(t, "resid_post", resid, g.PatchResidPost), worst(t, "embed", [][]float64{embed}, [][]float64{g.PatchEmbed})
	if max(wr, we) > 0.02*(hi-lo) {
		t.Errorf("the web format against the float64 golden values: resid_post off by %.3g, embed by %.3g, more than 2%% of the range %.3g", wr, we, hi-lo)
	}
	t.Logf("the web format against the float64 golden values: resid_post within %.3g, embed within %.3g (%.2f%% of the range)", wr, we, 100*max(wr, we)/(hi-lo))

	// The heatmap shows the same numbers (embed row on top), and the tables the same tokens.
	hm := eval[struct {
		Rows, Cols int
		Values     []*float64
		Title      string
	}](tb, `patchlab.heatmap()`)
	if hm.Rows != len(resid)+1 || hm.Cols != len(resid[0]) {
		t.Fatalf("heatmap is %d×%d, want %d×%d", hm.Rows, hm.Cols, len(resid)+1, len(resid[0]))
	}
	for c, v := range embed {
		if hm.Values[c] == nil || math.Abs(*hm.Values[c]-v) > 1e-9 {
			t.Errorf("heatmap embed cell %d = %v, want %g", c, hm.Values[c], v)
		}
	}
	if !strings.Contains(hm.Title, "resid_post") || !strings.Contains(hm.Title, "Logit difference") {
		t.Errorf("heatmap title %q does not say its site and metric", hm.Title)
	}
	ids := eval[[]int](tb, `[...document.querySelectorAll("#clean-top tbody tr")].map(tr => +tr.children[1].textContent)`)
	if len(ids) != 20 {
		t.Fatalf("the clean table has %d rows", len(ids))
	}
	for i, p := range a.CleanTop {
		if ids[i] != p.ID {
			t.Errorf("clean table row %d: token %d, the native run says %d", i+1, ids[i], p.ID)
		}
	}

	// The canvas is drawn at the device pixel ratio.
	dims := eval[[]float64](tb, `(() => { const c = document.getElementById("heatmap"); return [c.width, parseFloat(c.style.width), devicePixelRatio]; })()`)
	if math.Abs(dims[0]-dims[1]*dims[2]) > 1 {
		t.Errorf("canvas is %g px wide for %g CSS px at ratio %g", dims[0], dims[1], dims[2])
	}

	// A screenshot with a cell focused from the keyboard.
	tb.do(chromedp.Focus(chromedp.ID("heatmap")),
		chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
	live := eval[string](tb, `document.getElementById("heat-live").textContent`)
	if !strings.Contains(live, "layer 1") || !strings.Contains(live, "position 1") {
		t.Errorf("the announced cell is %q, want layer 1, position 1", live)
	}
	shot, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100)) // PNG
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "patchlab-screenshot.png", shot)
	if os.Getenv("PATCHLAB_ARTIFACTS") == "" && os.Getenv("CI") == "" {
		// Run by hand: keep a copy to look at after the test's files are gone.
		if err := os.WriteFile(filepath.Join(os.TempDir(), "patchlab-screenshot.png"), shot, 0o644); err == nil {
			t.Logf("and %s", filepath.Join(os.TempDir(), "patchlab-screenshot.png"))
		}
	}
}

// TestFloat32GoldenAndExport opens the fixture's model.safetensors by URL
// in float32, runs the Michelle case, compares the heatmap with the golden
// values, and downloads the JSON export and compares it too.
func TestFloat32GoldenAndExport(t *testing.T) {
	e := setup(t)
	g := e.golden.find("michelle")
	tb := newTab(t, e)
	tb.open("?workers=2", 1)
	tb.do(chromedp.Click(chromedp.ID("weights-show")),
		chromedp.Click(chromedp.CSS(`input[name=precision][value=f32]`)),
		chromedp.SetValue(chromedp.ID("weights-url"), tb.origin+"/fixtures/tiny/model.safetensors"),
		chromedp.Click(chromedp.ID("weights-fetch")))
	tb.wait("float32 weights", `patchlab.status().ready && patchlab.status().info && !patchlab.status().info.quantized && patchlab.status().workers.ready >= 2`, 60*time.Second)
	tb.runAndWait()

	resid := readSweep(tb, "resid_post").diffs(t)
	embed := readSweep(tb, "embed").diffs(t)[0]
	if w := worst(t, "resid_post", resid, g.PatchResidPost); w > 1e-3 {
		t.Errorf("resid_post differs from the golden values by %g", w)
	} else {
		t.Logf("float32 resid_post within %.2g of the golden values", w)
	}
	if w := worst(t, "embed", [][]float64{embed}, [][]float64{g.PatchEmbed}); w > 1e-3 {
		t.Errorf("embed differs from the golden values by %g", w)
	}

	// The JSON export, through the browser's download.
	data := tb.download("export-json")
	artifact(t, "patchlab-export.json", data)
	var rec fixture.Case
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.CleanTargetID != g.CleanTargetID || rec.CorruptedTargetID != g.CorruptedTargetID ||
		fmt.Sprint(rec.CleanIDs) != fmt.Sprint(g.CleanIDs) || fmt.Sprint(rec.CorruptedIDs) != fmt.Sprint(g.CorruptedIDs) {
		t.Errorf("the export's ids differ from the golden ones")
	}
	if w := worst(t, "export patch_resid_post", rec.PatchResidPost, g.PatchResidPost); w > 1e-3 {
		t.Errorf("the export's patch_resid_post differs from the golden values by %g", w)
	}
	if w := worst(t, "export patch_embed", [][]float64{rec.PatchEmbed}, [][]float64{g.PatchEmbed}); w > 1e-3 {
		t.Errorf("the export's patch_embed differs from the golden values by %g", w)
	}
	if w := worst(t, "export clean_target_delta", rec.PatchResidPostCleanTargetDelta, g.PatchResidPostCleanTargetDelta); w > 1e-3 {
		t.Errorf("the export's patch_resid_post_clean_target_delta differs from the golden values by %g", w)
	}
	if math.Abs(rec.CleanLogitDiff-g.CleanLogitDiff) > 1e-4 || math.Abs(rec.CorruptedLogitDiff-g.CorruptedLogitDiff) > 1e-4 {
		t.Errorf("the export's baselines %g, %g differ from the golden %g, %g", rec.CleanLogitDiff, rec.CorruptedLogitDiff, g.CleanLogitDiff, g.CorruptedLogitDiff)
	}
	for i, row := range g.CleanTop20 {
		got := rec.CleanTop20[i]
		if got[0].(float64) != row[0].(float64) || math.Abs(got[2].(float64)-row[2].(float64)) > 1e-6 {
			t.Errorf("clean_top20[%d] = %v, golden %v", i, got, row)
		}
	}

	// The PNG: the heatmap at twice its size, labels and colour bar included.
	img, err := png.Decode(bytes.NewReader(tb.download("export-png")))
	if err != nil {
		t.Fatalf("the PNG export: %v", err)
	}
	if w := img.Bounds().Dx(); w < 1000 {
		t.Errorf("the PNG is %d px wide", w)
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	artifact(t, "patchlab-heatmap.png", buf.Bytes())

	// The CSV of the matrix: a header of labelled positions, a row per layer
	// (the embedding first), the golden values.
	rows, err := csv.NewReader(bytes.NewReader(tb.download("export-csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || len(rows[0]) != 12 || rows[0][2] != "1  Jones→Smith" || rows[1][0] != "embed" || rows[2][0] != "0" {
		t.Fatalf("the CSV: %q", rows[:min(len(rows), 3)])
	}
	for c, want := range g.PatchResidPost[0] {
		got, err := strconv.ParseFloat(rows[2][c+1], 64)
		if err != nil || math.Abs(got-want) > 1e-3 {
			t.Errorf("CSV layer 0, position %d: %q, golden %g", c, rows[2][c+1], want)
		}
	}
	tables, err := csv.NewReader(bytes.NewReader(tb.download("export-tables"))).ReadAll()
	if err != nil || len(tables) != 41 || tables[1][2] != "233" {
		t.Errorf("the tables CSV: %v, %q", err, tables[:min(len(tables), 2)])
	}
}

// download clicks an export button and returns the file the browser saved.
func (tb *tab) download(button string) []byte {
	tb.t.Helper()
	dir := tb.t.TempDir()
	progress := chromedp.Events(tb.ctx, browser.DownloadProgress)
	if _, err := chromedp.Call(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		tb.t.Fatal(err)
	}
	tb.do(chromedp.Click(chromedp.ID(button)))
	for ev, err := range progress {
		if err != nil {
			tb.t.Fatalf("downloading from %s: %v", button, err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				tb.t.Fatal(err)
			}
			return data
		}
	}
	panic("unreachable")
}

// TestConvertInBrowser opens the fixture's checkpoint by URL at int8: a
// converter worker writes the web format (webfmt.Convert on an in-memory
// file system) into Cache Storage, and the workers load it from there.
// The shards must be the very bytes the native conversion wrote.
func TestConvertInBrowser(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=2", 1)
	tb.do(chromedp.Click(chromedp.ID("weights-show")),
		chromedp.Click(chromedp.CSS(`input[name=precision][value=int8]`)),
		chromedp.SetValue(chromedp.ID("weights-url"), tb.origin+"/fixtures/tiny/model.safetensors"),
		chromedp.Click(chromedp.ID("weights-fetch")))
	// The model beside the page stays until the converted one replaces it: the second load.
	tb.wait("the converted weights", `patchlab.status().loads >= 2 && patchlab.status().ready && patchlab.status().workers.ready >= 2 && patchlab.status().info.quantized`, 60*time.Second)
	got := eval[string](tb, `PatchlabStore.userManifest()`)
	var browserM, nativeM webfmt.Manifest
	if err := json.Unmarshal([]byte(got), &browserM); err != nil {
		t.Fatalf("the kept manifest: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(e.dist, "weights", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &nativeM)
	if fmt.Sprint(browserM.Shards) != fmt.Sprint(nativeM.Shards) {
		t.Errorf("the browser's conversion differs from the native one:\n%v\n%v", browserM.Shards, nativeM.Shards)
	}
	tb.runAndWait()
	nResid, _, _ := nativeWebFormat(t, e, e.golden.find("michelle"))
	if w := worst(t, "resid_post", readSweep(tb, "resid_post").diffs(t), nResid); w > 1e-4 {
		t.Errorf("resid_post on the browser-converted weights differs from the native engine by %g", w)
	}
}
