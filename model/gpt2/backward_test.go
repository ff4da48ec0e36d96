package gpt2_test

import (
	"fmt"
	"github.com/patchlab/patchlab/model/webfmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/ref64"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/weights"
)

func gradAt(g *gpt2.Grad, w ref64.Where) []float32 {
	if w.Kind == "neurons" {
		return g.Neurons[w.Layer]
	}
	for _, k := range []gpt2.SiteKind{gpt2.Embed, gpt2.ResidPost, gpt2.AttnOut, gpt2.MLPOut, gpt2.Z} {
		if k.String() == w.Kind {
			return g.Act(gpt2.Site{Kind: k, Layer: w.Layer})
		}
	}
	panic("unknown site " + w.Kind)
}

func loadTiny(t *testing.T) (*gpt2.Model, fixture.Case) {
	t.Helper()
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	path, _ := fixture.TinyModel()
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := fixture.Find(cases, "michelle")
	if !ok {
		t.Fatal("no michelle case")
	}
	return m, c
}

// TestBackwardFiniteDifferences: for every site, layer and position, the
// gradient's derivative along a random direction on that position's row
// equals a central difference of the float64 reference. The float64
// difference is exact to ~1e-9 here, so what the tolerance measures is the
// float32 gradient itself: within 2e-5 of the row's gradient scale
// (|g|·|u|) plus 1e-6. Float32 rounding moves it by ~3e-7 of that scale on
// this model (the test logs the worst); a wrong term in any derivative moves
// it by a sizeable fraction of it.
func TestBackwardFiniteDifferences(t *testing.T) {
	m, gc := loadTiny(t)
	ids := gc.CorruptedIDs
	targets := []int{gc.CorruptedTargetID, gc.CleanTargetID}
	weights := []float32{1, -1}
	_, tr, err := m.Forward(ids, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.Backward(tr, targets, weights)
	if err != nil {
		t.Fatal(err)
	}
	ref := ref64.New(m)
	base := ref.Metric(ids, targets, weights, nil)
	if _, want := gc.CorruptedLogitDiff, base; math.Abs(gc.CorruptedLogitDiff-base) > 1e-9 {
		t.Fatalf("float64 reference gives %.12g, golden %.12g", base, want)
	}
	var sites []ref64.Where
	sites = append(sites, ref64.Where{Kind: "embed"})
	for l := range m.Layers {
		for _, k := range []string{"z", "attn_out", "neurons", "mlp_out", "resid_post"} {
			sites = append(sites, ref64.Where{Kind: k, Layer: l})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	T := len(ids)
	const eps = 1e-5
	worst := 0.0
	for _, s := range sites {
		ga := gradAt(g, s)
		width := len(ga) / T
		for p := 0; p < T; p++ {
			u := make([]float64, width)
			var analytic, gn, un float64
			for k := range u {
				u[k] = rng.NormFloat64()
				gk := float64(ga[p*width+k])
				analytic += gk * u[k]
				gn += gk * gk
				un += u[k] * u[k]
			}
			moved := func(e float64) float64 {
				return ref.Metric(ids, targets, weights, func(at ref64.Where, a [][]float64) {
					if at == s {
						for k := range u {
							a[p][k] += e * u[k]
						}
					}
				})
			}
			fd := (moved(eps) - moved(-eps)) / (2 * eps)
			scale := math.Sqrt(gn * un)
			err := math.Abs(analytic - fd)
			worst = max(worst, err/max(scale, 1e-6))
			if err > 2e-5*scale+1e-6 {
				t.Errorf("%s.%d position %d: gradient·u = %.7g, finite difference %.7g (scale %.3g)", s.Kind, s.Layer, p, analytic, fd, scale)
			}
		}
	}
	t.Logf("worst |gradient·u − finite difference| / (|g|·|u|): %.2g", worst)
}

// TestBackwardOnRandomModels: on random models (one token; six tokens with
// repeats) single coordinates of the gradient match the float64 reference's
// central differences, the last block's gradient is zero before the last
// position (nothing there reaches the metric), and bad targets are refused.
func TestBackwardOnRandomModels(t *testing.T) {
	for _, tc := range []struct {
		cfg gpt2.Config
		ids []int
	}{
		{gpt2.Config{Layers: 2, Heads: 2, Width: 32, Context: 8, Vocab: 50}, []int{3}},
		{gpt2.Config{Layers: 3, Heads: 4, Width: 32, Context: 8, Vocab: 50}, []int{3, 9, 9, 41, 0, 7}},
	} {
		t.Run(fmt.Sprint(len(tc.ids)), func(t *testing.T) {
			m := gpt2.Random(tc.cfg, 11)
			targets, weights := []int{5, 17, 2}, []float32{1, -1, 0.5}
			_, tr, err := m.Forward(tc.ids, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			g, err := m.Backward(tr, targets, weights)
			if err != nil {
				t.Fatal(err)
			}
			ref := ref64.New(m)
			T, C, L := len(tc.ids), m.Width, m.Layers
			for k := 0; k < (T-1)*C; k++ {
				if g.MLPOut[L-1][k] != 0 || g.Z[L-1][k] != 0 {
					t.Fatal("last block: gradient before the last position")
				}
			}
			for _, s := range []ref64.Where{{Kind: "embed"}, {Kind: "z"}, {Kind: "neurons", Layer: 1}, {Kind: "attn_out", Layer: L - 1}} {
				ga := gradAt(g, s)
				width := len(ga) / T
				for _, idx := range []int{0, width*(T-1) + 1, len(ga) - 1} {
					moved := func(e float64) float64 {
						return ref.Metric(tc.ids, targets, weights, func(at ref64.Where, a [][]float64) {
							if at == s {
								a[idx/width][idx%width] += e
							}
						})
					}
					fd := (moved(1e-5) - moved(-1e-5)) / 2e-5
					if math.Abs(fd-float64(ga[idx])) > 1e-4*max(1, math.Abs(fd)) {
						t.Errorf("%s.%d [%d]: gradient %.7g, finite difference %.7g", s.Kind, s.Layer, idx, ga[idx], fd)
					}
				}
			}
			if _, err := m.Backward(tr, []int{50}, []float32{1}); err == nil {
				t.Error("want an error for a target outside the vocabulary")
			}
		})
	}
}

// TestBackwardQuantised: on a quantised model, Backward (which dequantises
// W row by row) gives the gradient of the float32 model holding the same
// dequantised weights.
func TestBackwardQuantised(t *testing.T) {
	q := webfmt.Quantize(gpt2.Random(gpt2.Config{Layers: 2, Heads: 2, Width: 64, Context: 8, Vocab: 70}, 5), 9)
	f := *q
	f.Blocks = append([]gpt2.Block(nil), q.Blocks...)
	for _, p := range f.Params() {
		if p.Matrix {
			w := *p.Mat(&f)
			data := make([]float32, w.Rows()*w.Cols())
			for o := 0; o < w.Rows(); o++ {
				w.Row(data[o*w.Cols():], o)
			}
			*p.Mat(&f) = tensor.NewF32(w.Rows(), w.Cols(), data)
		}
	}
	ids, targets, weights := []int{1, 5, 9, 2, 69}, []int{3, 4}, []float32{1, -1}
	grads := make([]*gpt2.Grad, 2)
	for i, m := range []*gpt2.Model{q, &f} {
		_, tr, err := m.Forward(ids, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		if grads[i], err = m.Backward(tr, targets, weights); err != nil {
			t.Fatal(err)
		}
	}
	for _, pair := range [][2][]float32{{grads[0].Embed, grads[1].Embed}, {grads[0].Z[0], grads[1].Z[0]}, {grads[0].Neurons[0], grads[1].Neurons[0]}} {
		var scale float64
		for _, v := range pair[1] {
			scale = max(scale, math.Abs(float64(v)))
		}
		for k := range pair[0] {
			if d := math.Abs(float64(pair[0][k] - pair[1][k])); d > 1e-4*scale {
				t.Fatalf("element %d: quantised %g, dequantised float32 %g", k, pair[0][k], pair[1][k])
			}
		}
	}
}

// TestBackwardFrom: the gradients from a position on are Backward's bit for
// bit, at every site of every layer; before it they are 0.
func TestBackwardFrom(t *testing.T) {
	m := gpt2.Random(gpt2.Config{Layers: 3, Heads: 2, Width: 16, Context: 8, Vocab: 30}, 8)
	_, tr, err := m.Forward([]int{4, 9, 1, 7, 7, 2}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	targets, weights := []int{3, 5}, []float32{1, -1}
	all, err := m.Backward(tr, targets, weights)
	if err != nil {
		t.Fatal(err)
	}
	C := m.Width
	for _, first := range []int{1, 3, 5} {
		part, err := m.BackwardFrom(tr, targets, weights, first)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, got, want []float32, w int) {
			for k := range want {
				if k < first*w && got[k] != 0 || k >= first*w && got[k] != want[k] {
					t.Fatalf("from %d, %s element %d: %g, Backward's %g", first, what, k, got[k], want[k])
				}
			}
		}
		check("embed", part.Embed, all.Embed, C)
		for l := range m.Layers {
			check(fmt.Sprintf("resid_post.%d", l), part.Resid[l], all.Resid[l], C)
			check(fmt.Sprintf("attn_out.%d", l), part.AttnOut[l], all.AttnOut[l], C)
			check(fmt.Sprintf("z.%d", l), part.Z[l], all.Z[l], C)
			check(fmt.Sprintf("neurons.%d", l), part.Neurons[l], all.Neurons[l], 4*C)
		}
	}
	if _, err := m.BackwardFrom(tr, targets, weights, tr.T); err == nil {
		t.Error("Backward from past the last position: no error")
	}
}
