package atp

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/ref64"
	"github.com/patchlab/patchlab/model/weights"
)

// viewsCase is the attribution-patching part of a views-golden.json case.
type viewsCase struct {
	Name          string      `json:"name"`
	ATPResidPost  [][]float64 `json:"atp_resid_post"`
	ATPEmbed      []float64   `json:"atp_embed"`
	ATPAttnOut    [][]float64 `json:"atp_attn_out"`
	ATPMLPOut     [][]float64 `json:"atp_mlp_out"`
	ATPHeadZAllPo [][]float64 `json:"atp_head_z_all_positions"`
}

func loadViews(t *testing.T) []viewsCase {
	t.Helper()
	dir, err := fixture.Dir()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "tiny-gpt2", "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Cases []viewsCase }
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("views-golden.json has no cases")
	}
	return v.Cases
}

func tinySession(t *testing.T, name string) *patch.Session {
	t.Helper()
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	gc, ok := fixture.Find(cases, name)
	if !ok {
		t.Fatalf("no golden case %q", name)
	}
	path, _ := fixture.TinyModel()
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := patch.NewSession(m, gc.CleanIDs, gc.CorruptedIDs, gc.CleanTargetID, gc.CorruptedTargetID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func near(t *testing.T, what string, got []float64, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol || math.IsNaN(got[i]) {
			t.Errorf("%s[%d]: got %.7g, want %.7g (±%g)", what, i, got[i], want[i], tol)
		}
	}
}

// TestGolden: every atp_* matrix of views-golden.json within 1e-4.
func TestGolden(t *testing.T) {
	for _, vc := range loadViews(t) {
		s := tinySession(t, vc.Name)
		e, err := Estimate(s, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, ck := range []struct {
			site patch.Site
			want [][]float64
		}{
			{patch.Site{Kind: gpt2.ResidPost}, vc.ATPResidPost},
			{patch.Site{Kind: gpt2.Embed}, [][]float64{vc.ATPEmbed}},
			{patch.Site{Kind: gpt2.AttnOut}, vc.ATPAttnOut},
			{patch.Site{Kind: gpt2.MLPOut}, vc.ATPMLPOut},
			{patch.Site{Kind: gpt2.Z}, vc.ATPHeadZAllPo},
		} {
			rows, cols, vals, err := e.Site(ck.site)
			if err != nil {
				t.Fatal(err)
			}
			if wr, wc := s.Shape(ck.site); rows != wr || cols != wc {
				t.Fatalf("%v: %d×%d, the sweep's is %d×%d", ck.site, rows, cols, wr, wc)
			}
			var want []float64
			for _, r := range ck.want {
				want = append(want, r...)
			}
			near(t, fmt.Sprintf("%s atp %v", vc.Name, ck.site), vals, want, 1e-4)
		}
	}
}

// TestFinerSitesAddUp: the finer estimates are the coarser ones split up,
// since the estimate is linear in the patch and c_proj is linear: the
// neurons of (layer, position) sum to mlp_out's estimate there (golden),
// the heads to attn_out's less nothing (z per position), and each head's
// positions to its all-positions estimate. The top-k list is the full
// list's first k.
func TestFinerSitesAddUp(t *testing.T) {
	s := tinySession(t, "michelle")
	m := s.Model
	L, H, T := m.Layers, m.Heads, s.T()
	all, err := Estimate(s, L*T*4*m.Width)
	if err != nil {
		t.Fatal(err)
	}
	sum := make([][]float64, L)
	for l := range sum {
		sum[l] = make([]float64, T)
	}
	for _, n := range all.Neurons {
		sum[n.Layer][n.Pos] += n.Estimate
	}
	for l := 0; l < L; l++ {
		near(t, fmt.Sprintf("Σ neurons, layer %d", l), sum[l], all.MLPOut[l], 1e-5)
		heads := make([]float64, T)
		for h := 0; h < H; h++ {
			var total float64
			for p := 0; p < T; p++ {
				heads[p] += all.HeadZPos[l*H+h][p]
				total += all.HeadZPos[l*H+h][p]
			}
			near(t, fmt.Sprintf("Σ positions, head %d.%d", l, h), []float64{total}, []float64{all.HeadZ[l][h]}, 1e-9)
		}
		near(t, fmt.Sprintf("Σ heads, layer %d", l), heads, all.AttnOut[l], 1e-5)
	}
	top, err := Estimate(s, 25)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range top.Neurons {
		if n != all.Neurons[i] {
			t.Fatalf("top-25 #%d is %+v, the full ranking's is %+v", i, n, all.Neurons[i])
		}
		if i > 0 && math.Abs(n.Estimate) > math.Abs(top.Neurons[i-1].Estimate) {
			t.Fatalf("top-25 not in order of |estimate| at #%d", i)
		}
	}
}

// TestExactNeuron: patching one neuron, by the hook (ExactNeuron) and by
// the batched path (ExactNeurons), agrees with the float64 reference run
// with that neuron set to the clean run's value; a neuron before the
// texts' first difference leaves the corrupted run as it is.
func TestExactNeuron(t *testing.T) {
	s := tinySession(t, "michelle")
	m := s.Model
	e, err := Estimate(s, 8)
	if err != nil {
		t.Fatal(err)
	}
	ns := append(e.Neurons, Neuron{Layer: 1, Pos: 0, Index: 5}, Neuron{Layer: m.Layers - 1, Pos: s.T() - 2, Index: 3})
	batched, err := ExactNeurons(context.Background(), s, ns)
	if err != nil {
		t.Fatal(err)
	}
	ref := ref64.New(m)
	targets, w := []int{s.CorruptedTarget, s.CleanTarget}, []float32{1, -1}
	for i, n := range ns {
		one, err := ExactNeuron(s, n)
		if err != nil {
			t.Fatal(err)
		}
		var clean float64
		ref.Metric(s.CleanIDs, targets, w, func(at ref64.Where, a [][]float64) {
			if at == (ref64.Where{Kind: "neurons", Layer: n.Layer}) {
				clean = a[n.Pos][n.Index]
			}
		})
		want := ref.Metric(s.CorruptedIDs, targets, w, func(at ref64.Where, a [][]float64) {
			if at == (ref64.Where{Kind: "neurons", Layer: n.Layer}) {
				a[n.Pos][n.Index] = clean
			}
		})
		what := fmt.Sprintf("neuron %+v", n)
		near(t, what+" by hook", []float64{one.Diff()}, []float64{want}, 1e-4)
		near(t, what+" batched", []float64{batched[i].Diff()}, []float64{one.Diff()}, 1e-5)
		if n.Pos < s.FirstDiff && one.Diff() != s.CorruptedBase.Diff() {
			t.Errorf("%s: before the first difference, got %.7g, want the corrupted baseline %.7g", what, one.Diff(), s.CorruptedBase.Diff())
		}
	}
	if _, err := ExactNeuron(s, Neuron{Layer: m.Layers}); err == nil {
		t.Error("want an error for a layer outside the model")
	}
}

// TestTopCellsRows: TopCells ranks by |estimate|, and sweeping only
// Rows(TopCells) gives those cells' exact values as the full sweep does.
func TestTopCellsRows(t *testing.T) {
	s := tinySession(t, "michelle")
	e, err := Estimate(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	site := patch.Site{Kind: gpt2.Z, PerPosition: true}
	_, cols, vals, err := e.Site(site)
	if err != nil {
		t.Fatal(err)
	}
	top := TopCells(vals, cols, 5)
	for i, c := range top {
		if vals[c.Row*cols+c.Col] != c.Estimate || (i > 0 && math.Abs(c.Estimate) > math.Abs(top[i-1].Estimate)) {
			t.Fatalf("TopCells #%d %+v: wrong value or order", i, c)
		}
	}
	for _, v := range vals {
		if math.Abs(v) > math.Abs(top[len(top)-1].Estimate) && !contains(top, v) {
			t.Fatalf("estimate %g is larger than TopCells' smallest but not in it", v)
		}
	}
	ctx := context.Background()
	part, err := s.Sweep(ctx, site, patch.Options{Rows: Rows(top)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	full, err := s.Sweep(ctx, site, patch.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range top {
		if p, f := part.Cells[c.Row*cols+c.Col], full.Cells[c.Row*cols+c.Col]; p.Clean != f.Clean || p.Corrupted != f.Corrupted {
			t.Errorf("cell %+v: the partial sweep differs from the full one", c)
		}
	}
}

func contains(cells []Ranked, v float64) bool {
	for _, c := range cells {
		if c.Estimate == v {
			return true
		}
	}
	return false
}

// TestWithoutHidden: runs longer than gpt2.HiddenMaxT keep no MLP hidden
// values in their traces and recompute them; every estimate, gradient and
// neuron is then the same bit for bit.
func TestWithoutHidden(t *testing.T) {
	s := tinySession(t, "michelle")
	kept, err := Estimate(s, 50)
	if err != nil {
		t.Fatal(err)
	}
	if s.Clean.Hidden == nil || s.Corrupted.Hidden == nil {
		t.Fatal("a short run's trace keeps no hidden values")
	}
	s.Clean.Hidden, s.Corrupted.Hidden = nil, nil
	redone, err := Estimate(s, 50)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(kept)
	got, _ := json.Marshal(redone)
	if string(got) != string(want) {
		t.Fatal("the estimates from recomputed hidden values differ from the trace's")
	}
}
