package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/report"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/model/weights"
)

// webEngine is the engine with the tiny fixture in the web format at bits,
// and that model as the native code loads it.
func webEngine(t *testing.T, bits int) (*Engine, *gpt2.Model) {
	t.Helper()
	m, err := weights.LoadSafetensors(filepath.Join(tiny, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := webfmt.ConvertModel(m, bits, nil, dir, nil); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, webfmt.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine()
	if _, err := e.LoadWeb(manifest, func(file string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, file)) }); err != nil {
		t.Fatal(err)
	}
	native, err := webfmt.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return e, native
}

// pageSweeps sweeps sites of the started analysis as the page does, a
// row at a time through the cells' wire format.
func pageSweeps(t *testing.T, e *Engine, sites ...string) []SiteCells {
	t.Helper()
	var out []SiteCells
	for _, name := range sites {
		s, err := patch.ParseSite(name)
		if err != nil {
			t.Fatal(err)
		}
		rows, cols := e.an.Session.Shape(s)
		cells := make([]patch.Cell, rows*cols)
		for r := range rows {
			err := e.Sweep(context.Background(), name, "denoise", false, []int{r}, func(row int, got []patch.Cell) {
				back, err := DecodeCells(EncodeCells(got))
				if err != nil {
					t.Fatal(err)
				}
				copy(cells[row*cols:], back)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, SiteCells{Site: name, Cells: cells})
	}
	return out
}

func unzip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("the kit is not a zip archive: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r) // checks the CRC-32
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return files
}

// TestReportKit: the zip holds the page's figures, the text model/report
// writes for the same analysis run natively (the CLI's sweep -report),
// and record.json equal to the JSON export.
func TestReportKit(t *testing.T) {
	e, native := webEngine(t, 12)
	if _, err := e.Start(michelle); err != nil {
		t.Fatal(err)
	}
	sweeps := pageSweeps(t, e, "embed", "resid_post", "attn_out")
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 1890, 900))); err != nil {
		t.Fatal(err)
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="1890" height="900"></svg>`)
	req := KitRequest{View: "resid_post", Metric: "normalized", RecordMetric: "normalized"}
	data, err := e.ReportKit(sweeps, req, []KitFile{{"heatmap.png", pngBuf.Bytes()}, {"heatmap.svg", svg}})
	if err != nil {
		t.Fatal(err)
	}
	files := unzip(t, data)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	want := []string{"heatmap.png", "heatmap.svg", "heatmap.tex", "heatmap.txt", "record.json", "tables.md", "tables.tex"}
	if !slices.Equal(names, want) {
		t.Fatalf("the kit holds %q, want %q", names, want)
	}

	// record.json is the JSON export's bytes.
	export, err := e.Record(sweeps, "normalized")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["record.json"], export) {
		t.Errorf("record.json differs from the JSON export")
	}

	// The text is what model/report writes for the analysis run natively.
	tok := bpe.New()
	a, err := analysis.New(native, tok, michelle)
	if err != nil {
		t.Fatal(err)
	}
	var mxs []*patch.Matrix
	for _, k := range []gpt2.SiteKind{gpt2.Embed, gpt2.ResidPost, gpt2.AttnOut} {
		mx, err := a.Session.Sweep(context.Background(), patch.Site{Kind: k}, patch.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		mxs = append(mxs, mx)
	}
	rec, err := a.Record(tok, mxs, patch.Normalized)
	if err != nil {
		t.Fatal(err)
	}
	kit := report.Kit{Record: rec, Model: report.ModelName(native.Config, 12), Metric: patch.Normalized, Direction: report.Denoising,
		Heatmaps: []report.Heatmap{{File: "heatmap", Site: patch.Site{Kind: gpt2.ResidPost}, WithEmbed: true, Rows: "layer", Cols: "position"}}}
	for _, f := range kit.Files() {
		if got := string(files[f.Name]); got != f.Text {
			t.Errorf("%s differs from model/report's for the native analysis:\n%s\nwant\n%s", f.Name, got, f.Text)
		}
	}
	if txt := string(files["heatmap.txt"]); !strings.Contains(txt, "12-bit codes") || !strings.Contains(txt, "resid_post (and embed") || !strings.Contains(txt, "normalized") {
		t.Errorf("the caption %q does not name the model, site and metric", txt)
	}

	// The PNG is the page's, saying 300 dpi; the SVG as drawn.
	img, err := png.Decode(bytes.NewReader(files["heatmap.png"]))
	if err != nil || img.Bounds().Dx() != 1890 {
		t.Fatalf("heatmap.png: %v", err)
	}
	if ppm, ok := pngPHYs(files["heatmap.png"]); !ok || ppm != 11811 {
		t.Errorf("heatmap.png: %d pixels per metre (%v), want 11811 (300 dpi)", ppm, ok)
	}
	if !bytes.Equal(files["heatmap.svg"], svg) {
		t.Errorf("heatmap.svg is not the page's")
	}

	// Another view: attn_out has no embed row.
	data, err = e.ReportKit(sweeps, KitRequest{View: "attn_out", Metric: "logit_diff", RecordMetric: "logit_diff"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if txt := string(unzip(t, data)["heatmap.txt"]); !strings.Contains(txt, "patching of attn_out in") || strings.Contains(txt, "embed") {
		t.Errorf("the attn_out caption: %q", txt)
	}
}

// TestReportKitRefuses what it cannot make.
func TestReportKitRefuses(t *testing.T) {
	e := tinyEngine(t)
	ok := KitRequest{View: "resid_post", Metric: "logit_diff", RecordMetric: "logit_diff"}
	if _, err := e.ReportKit(nil, ok, nil); err == nil {
		t.Error("a kit before any analysis")
	}
	if _, err := e.Start(michelle); err != nil {
		t.Fatal(err)
	}
	sweeps := pageSweeps(t, e, "embed", "resid_post")
	for name, c := range map[string]struct {
		req  KitRequest
		figs []KitFile
		says string
	}{
		"unknown view":     {KitRequest{View: "<img>", Metric: "logit_diff", RecordMetric: "logit_diff"}, nil, "unknown view"},
		"view not swept":   {KitRequest{View: "mlp_out", Metric: "logit_diff", RecordMetric: "logit_diff"}, nil, "mlp_out is not swept"},
		"unknown metric":   {KitRequest{View: "resid_post", Metric: "x", RecordMetric: "logit_diff"}, nil, "metric"},
		"a figure's name":  {ok, []KitFile{{"../heatmap.png", nil}}, "no figure is called"},
		"a PNG that isn't": {ok, []KitFile{{"heatmap.png", []byte("<svg/>")}}, "not a PNG"},
	} {
		_, err := e.ReportKit(sweeps, c.req, c.figs)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.says)
		}
	}
}

// TestWithDPI: the pHYs chunk replaces any other, and the PNG still decodes.
func TestWithDPI(t *testing.T) {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 3, 2)))
	once, err := withDPI(buf.Bytes(), 300)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := withDPI(once, 72)
	if err != nil {
		t.Fatal(err)
	}
	if ppm, _ := pngPHYs(twice); ppm != 2835 || bytes.Count(twice, []byte("pHYs")) != 1 {
		t.Errorf("after two: %d pixels per metre, %d pHYs chunks", ppm, bytes.Count(twice, []byte("pHYs")))
	}
	if img, err := png.Decode(bytes.NewReader(twice)); err != nil || img.Bounds().Dx() != 3 {
		t.Errorf("decoding: %v", err)
	}
	if _, err := withDPI(buf.Bytes()[:len(buf.Bytes())-5], 300); err == nil {
		t.Error("a truncated PNG accepted")
	}
}

// pngPHYs reads a PNG's horizontal pixels per metre from its pHYs chunk.
func pngPHYs(b []byte) (uint32, bool) {
	for off := 8; off+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if string(b[off+4:off+8]) == "pHYs" && n == 9 && b[off+16] == 1 {
			return binary.BigEndian.Uint32(b[off+8:]), true
		}
		off += 12 + n
	}
	return 0, false
}
