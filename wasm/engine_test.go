package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/model/weights"
)

// tiny is the tiny GPT-2 fixture's directory.
var tiny = func() string {
	dir, _ := fixture.Dir()
	return filepath.Join(dir, "tiny-gpt2")
}()

var michelle = analysis.Request{
	Clean: "Michelle Jones was a top-notch student. Michelle", Corrupted: "Michelle Smith was a top-notch student. Michelle",
	CleanTarget: " Jones", CorruptedTarget: " Smith",
}

func tinyEngine(t *testing.T) *Engine {
	t.Helper()
	f, err := os.Open(filepath.Join(tiny, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	cfg, err := os.ReadFile(filepath.Join(tiny, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine()
	info, err := e.LoadSafetensors(f, st.Size(), "model.safetensors", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Layers != 4 || info.Config.Heads != 4 || info.Quantized {
		t.Fatalf("info %+v", info)
	}
	return e
}

func TestTokenize(t *testing.T) {
	e := NewEngine()
	tk := e.Tokenize(michelle)
	if tk.Error != nil || len(tk.Clean) != 11 || len(tk.Differ) != 1 || tk.Differ[0] != 1 {
		t.Errorf("Michelle: %+v", tk)
	}
	bad := michelle
	bad.Corrupted = "Michelle Richardson-Smith was a top-notch student. Michelle"
	tk = e.Tokenize(bad)
	if tk.Error == nil || tk.Error.FirstDiff != 1 || len(tk.Error.Corrupted) != 13 || len(tk.Differ) != 0 {
		t.Errorf("length mismatch: %+v", tk)
	}
	bad = michelle
	bad.CleanTarget = "Jones and"
	if tk = e.Tokenize(bad); tk.Error == nil || tk.Error.Field != "clean_target" || len(tk.CleanTarget) != 2 {
		t.Errorf("two-token target: %+v", tk)
	}
	if _, err := e.Start(michelle); !errors.Is(err, ErrNoModel) {
		t.Errorf("Start without a model: %v", err)
	}
}

// TestSweepAndRecord runs the golden Michelle case on the float32 fixture
// through the engine as the worker does: row by row, cells packed for the
// page and back, then the JSON record.
func TestSweepAndRecord(t *testing.T) {
	e := tinyEngine(t)
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fixture.Find(cases, "michelle")
	b, err := e.Start(michelle)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.CleanTop) != 20 || b.PositionLabels[1] != "1  Jones→Smith" {
		t.Errorf("baseline %+v", b)
	}
	sites := analysis.SiteInfos(e.model.Config)
	var sweeps []SiteCells
	for _, site := range []string{"embed", "resid_post"} {
		i := slices.IndexFunc(sites, func(s analysis.SiteInfo) bool { return s.Name == site })
		rows, cols := sites[i].Rows, len(b.PositionLabels)
		cells := make([]patch.Cell, rows*cols)
		order := []int{}
		for r := rows - 1; r >= 0; r-- { // any order: the page hands rows out as workers free up
			order = append(order, r)
		}
		for _, r := range order {
			err := e.Sweep(context.Background(), site, "denoise", false, []int{r}, func(row int, got []patch.Cell) {
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
		sweeps = append(sweeps, SiteCells{Site: site, Cells: cells})
	}
	out, err := e.Record(sweeps, "normalized")
	if err != nil {
		t.Fatal(err)
	}
	var rec analysis.Record
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatal(err)
	}
	for r, row := range want.PatchResidPost {
		for c, v := range row {
			if d := math.Abs(rec.PatchResidPost[r][c] - v); d > 1e-4 {
				t.Fatalf("patch_resid_post[%d][%d] = %g, golden %g", r, c, rec.PatchResidPost[r][c], v)
			}
		}
	}
	for c, v := range want.PatchEmbed {
		if d := math.Abs(rec.PatchEmbed[c] - v); d > 1e-4 {
			t.Fatalf("patch_embed[%d] = %g, golden %g", c, rec.PatchEmbed[c], v)
		}
	}
	if rec.Metric != "normalized" || len(rec.Matrices["resid_post"]) != 4 {
		t.Errorf("the record of the normalized metric: %q, %d rows", rec.Metric, len(rec.Matrices["resid_post"]))
	}
}

func TestCancelledSweep(t *testing.T) {
	e := tinyEngine(t)
	if _, err := e.Start(michelle); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.Sweep(ctx, "resid_post", "denoise", false, []int{0, 1}, func(int, []patch.Cell) { t.Error("a row of a cancelled sweep") })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestParseSite(t *testing.T) {
	for _, name := range []string{"embed", "resid_post", "attn_out", "mlp_out", "z", "z_per_position"} {
		s, err := patch.ParseSite(name)
		if err != nil || s.String() != name {
			t.Errorf("%s: %v %v", name, s, err)
		}
	}
	if _, err := patch.ParseSite("<img>"); err == nil {
		t.Error("an unknown site was accepted")
	}
}

func TestDecodeCellsRejects(t *testing.T) {
	if _, err := DecodeCells(make([]byte, 25)); err == nil {
		t.Error("25 bytes accepted")
	}
}

// LoadWeb tells the page the width and what the converter measured.
func TestLoadWebInfo(t *testing.T) {
	m, err := weights.LoadSafetensors(filepath.Join(tiny, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cal := &webfmt.Calibration{Tolerance: 0.005, Worst: 0.0012}
	if err := webfmt.ConvertModel(m, 10, cal, dir, nil); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, webfmt.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	info, err := NewEngine().LoadWeb(manifest, func(file string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, file)) })
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(info)
	var got struct {
		Quantized   bool
		Bits        int
		Calibration struct{ Tolerance, Worst float64 }
	}
	if err := json.Unmarshal(data, &got); err != nil || !got.Quantized || got.Bits != 10 || got.Calibration.Tolerance != 0.005 || got.Calibration.Worst != 0.0012 {
		t.Errorf("info %s", data)
	}
}
