package inspect

import (
	"encoding/json"
	"fmt"
	"github.com/patchlab/patchlab/model/webfmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/weights"
)

// viewsCase is one case of views-golden.json (the inputs are golden.json's
// case of the same name).
type viewsCase struct {
	Name                   string          `json:"name"`
	AttnPatternClean       [][][][]float64 `json:"attn_pattern_clean"`
	AttnPatternCorrupted   [][][][]float64 `json:"attn_pattern_corrupted"`
	LogitLensClean         [][]float64     `json:"logit_lens_clean"`
	LogitLensCorrupted     [][]float64     `json:"logit_lens_corrupted"`
	LogitLensTop1Clean     [][]int         `json:"logit_lens_top1_clean"`
	LogitLensTop1Corrupted [][]int         `json:"logit_lens_top1_corrupted"`
	DLAClean               DLA             `json:"dla_clean"`
	DLACorrupted           DLA             `json:"dla_corrupted"`
}

// golden is one golden case: its session on the model, and the oracle's views.
type golden struct {
	viewsCase
	s *patch.Session
}

func loadGolden(t *testing.T, m *gpt2.Model) []golden {
	t.Helper()
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := fixture.Dir()
	b, err := os.ReadFile(filepath.Join(dir, "tiny-gpt2", "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vg struct{ Cases []viewsCase }
	if err := json.Unmarshal(b, &vg); err != nil {
		t.Fatal(err)
	}
	if len(vg.Cases) == 0 {
		t.Fatal("views-golden.json has no cases")
	}
	var out []golden
	for _, vc := range vg.Cases {
		gc, ok := fixture.Find(cases, vc.Name)
		if !ok {
			t.Fatalf("views-golden.json case %q is not in golden.json", vc.Name)
		}
		s, err := patch.NewSession(m, gc.CleanIDs, gc.CorruptedIDs, gc.CleanTargetID, gc.CorruptedTargetID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, golden{vc, s})
	}
	return out
}

func tinyModel(t *testing.T) *gpt2.Model {
	t.Helper()
	path, _ := fixture.TinyModel()
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run is one of a golden case's two runs, with the oracle's values.
type run struct {
	name string
	tr   *gpt2.Trace
	base patch.Cell
	attn [][][][]float64
	lens [][]float64
	top1 [][]int
	dla  DLA
}

func (g golden) runs() []run {
	return []run{
		{"clean", g.s.Clean, g.s.CleanBase, g.AttnPatternClean, g.LogitLensClean, g.LogitLensTop1Clean, g.DLAClean},
		{"corrupted", g.s.Corrupted, g.s.CorruptedBase, g.AttnPatternCorrupted, g.LogitLensCorrupted, g.LogitLensTop1Corrupted, g.DLACorrupted},
	}
}

func targets(s *patch.Session) Targets { return Targets{s.CleanTarget, s.CorruptedTarget} }

// worst is the largest |got − want| over matching shapes (shape errors are reported).
type worst struct {
	t    *testing.T
	name string
	off  float64
	n    int
}

func (w *worst) at(got, want float64) {
	w.n++
	if d := math.Abs(got - want); d > w.off || math.IsNaN(d) {
		w.off = d
		if math.IsNaN(d) {
			w.off = math.Inf(1)
		}
	}
}

func (w *worst) shape(what string, got, want int) bool {
	if got != want {
		w.t.Errorf("%s: %s %d, golden %d", w.name, what, got, want)
		return false
	}
	return true
}

func (w *worst) check(tol float64) {
	w.t.Helper()
	if w.n == 0 {
		w.t.Errorf("%s: nothing compared", w.name)
	}
	w.t.Logf("%s: worst %.3g", w.name, w.off)
	if w.off > tol {
		w.t.Errorf("%s: off by %.3g (tolerance %g) over %d values", w.name, w.off, tol, w.n)
	}
}

func (w *worst) matrix(got, want [][]float64) {
	if w.shape("rows", len(got), len(want)) {
		for r := range want {
			if w.shape("columns", len(got[r]), len(want[r])) {
				for c := range want[r] {
					w.at(got[r][c], want[r][c])
				}
			}
		}
	}
}

func (w *worst) attention(got [][][][]float32, want [][][][]float64) {
	if !w.shape("layers", len(got), len(want)) {
		return
	}
	for l := range want {
		if !w.shape("heads", len(got[l]), len(want[l])) {
			return
		}
		for h := range want[l] {
			w.matrix(widen(got[l][h]), want[l][h])
		}
	}
}

func widen(m [][]float32) [][]float64 {
	out := make([][]float64, len(m))
	for r, row := range m {
		for _, v := range row {
			out[r] = append(out[r], float64(v))
		}
	}
	return out
}

// dlaParts lists a DLA's parts as named matrices, for comparisons.
func dlaParts(d *DLA) map[string][][]float64 {
	return map[string][][]float64{
		"scalars":  {{d.Embed, d.LNFinalBias, d.Total}},
		"attn_out": {d.AttnOut}, "mlp_out": {d.MLPOut}, "attn_bias": {d.AttnBias},
		"heads": d.Heads,
	}
}

// TestGolden compares every view of both runs of every case with the
// oracle's: attention within 1e-6, lens and attribution within 1e-4, the
// top-1 tokens exactly.
func TestGolden(t *testing.T) {
	m := tinyModel(t)
	for _, g := range loadGolden(t, m) {
		for _, r := range g.runs() {
			name := g.Name + " " + r.name
			got := Inspect(m, r.tr, targets(g.s))
			a := &worst{t: t, name: name + " attention"}
			a.attention(got.Attn, r.attn)
			a.check(1e-6)
			l := &worst{t: t, name: name + " logit lens"}
			l.matrix(got.Lens, r.lens)
			l.check(1e-4)
			want := dlaParts(&r.dla)
			for part, vals := range dlaParts(got.DLA) {
				d := &worst{t: t, name: name + " DLA " + part}
				d.matrix(vals, want[part])
				d.check(1e-4)
			}
			top := LensTop1All(m, r.tr)
			if fmt.Sprint(top) != fmt.Sprint(r.top1) {
				t.Errorf("%s lens top-1:\n got %v\nwant %v", name, top, r.top1)
			}
		}
	}
}

// TestLensTop1Cells: a few cells at a time give the same tokens as whole rows.
func TestLensTop1Cells(t *testing.T) {
	m := tinyModel(t)
	g := loadGolden(t, m)[0]
	tr := g.s.Corrupted
	for r := range LensRows(m) {
		var got []int
		for from := 0; from < tr.T; from += 3 {
			got = append(got, LensTop1(m, tr, r, from, min(from+3, tr.T))...)
		}
		if fmt.Sprint(got) != fmt.Sprint(g.LogitLensTop1Corrupted[r]) {
			t.Errorf("row %d by chunks: %v, want %v", r, got, g.LogitLensTop1Corrupted[r])
		}
	}
}

// TestConsistent checks the views against the run itself: the lens's last
// cell and the attribution's total are the run's metric, the parts add up
// to it, the heads and bias add up to the attention output, and the
// patterns weight the values into the recorded z.
func TestConsistent(t *testing.T) {
	m := tinyModel(t)
	for _, g := range loadGolden(t, m) {
		for _, r := range g.runs() {
			name := g.Name + " " + r.name
			got := Inspect(m, r.tr, targets(g.s))
			last := got.Lens[m.Layers][r.tr.T-1]
			if last != r.base.Diff() || got.DLA.Total != r.base.Diff() {
				t.Errorf("%s: lens last cell %v, DLA total %v, want the run's metric %v", name, last, got.DLA.Total, r.base.Diff())
			}
			if d := math.Abs(got.DLA.Sum() - got.DLA.Total); d > 1e-4 {
				t.Errorf("%s: DLA parts sum to %v, total %v", name, got.DLA.Sum(), got.DLA.Total)
			}
			for l := range m.Layers {
				sum := got.DLA.AttnBias[l]
				for _, h := range got.DLA.Heads[l] {
					sum += h
				}
				if math.Abs(sum-got.DLA.AttnOut[l]) > 1e-4 {
					t.Errorf("%s layer %d: heads + bias = %v, attn_out %v", name, l, sum, got.DLA.AttnOut[l])
				}
			}
			checkWeightsValues(t, name, m, r.tr, got.Attn)
		}
	}
}

// checkWeightsValues: Σ_k p[l][h][q][k]·V[l][k] (head h's slice) is the
// recorded z, for every layer, head and query.
func checkWeightsValues(t *testing.T, name string, m *gpt2.Model, tr *gpt2.Trace, attn [][][][]float32) {
	t.Helper()
	c, d := m.Width, m.HeadDim()
	worst := 0.0
	for l := range m.Layers {
		for h := range m.Heads {
			for q := range tr.T {
				for i := range d {
					var z float64
					for k, p := range attn[l][h][q] {
						z += float64(p) * float64(tr.V[l][k*c+h*d+i])
					}
					worst = max(worst, math.Abs(z-float64(tr.Z[l][q*c+h*d+i])))
				}
			}
		}
	}
	if worst > 1e-5 {
		t.Errorf("%s: the patterns weight the values into z only within %g", name, worst)
	}
}

// webBits is the code width the converter's calibration chooses for the
// tiny fixture (see calib.Uncalibrated).
const webBits = 13

// TestWebFormat: on the model as the web format stores it, every view
// stays within 2% of each golden matrix's range.
func TestWebFormat(t *testing.T) {
	m := webfmt.Quantize(tinyModel(t), webBits)
	for _, g := range loadGolden(t, m) {
		for _, r := range g.runs() {
			name := g.Name + " " + r.name + fmt.Sprintf(" (%d-bit codes)", webBits)
			got := Inspect(m, r.tr, targets(g.s))
			check := func(part string, got, want [][]float64) {
				lo, hi := math.Inf(1), math.Inf(-1)
				for _, row := range want {
					for _, v := range row {
						lo, hi = min(lo, v), max(hi, v)
					}
				}
				w := &worst{t: t, name: name + " " + part}
				w.matrix(got, want)
				w.check(0.02 * (hi - lo))
				if !strings.HasPrefix(part, "attention") {
					t.Logf("%s %s: off by %.3g%% of its range", name, part, 100*w.off/(hi-lo))
				}
			}
			for l := range m.Layers {
				for h := range m.Heads {
					check(fmt.Sprintf("attention L%d.H%d", l, h), widen(got.Attn[l][h]), r.attn[l][h])
				}
			}
			check("logit lens", got.Lens, r.lens)
			check("DLA heads", got.DLA.Heads, r.dla.Heads)
			bars := func(d *DLA) [][]float64 {
				v := append([]float64{d.Embed}, d.AttnOut...)
				return [][]float64{append(append(append(v, d.MLPOut...), d.AttnBias...), d.LNFinalBias, d.Total)}
			}
			check("DLA components", bars(got.DLA), bars(&r.dla))
		}
	}
}
