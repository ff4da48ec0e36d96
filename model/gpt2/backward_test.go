package gpt2_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/weights"
)

// ref64 is GPT-2 written out again in float64, straight from the maths,
// with a hook at every site (and the MLP neurons) that may change the
// activation: the finite-difference reference for Backward.
type ref64 struct {
	m      *gpt2.Model
	blocks []block64
	lnfG   []float64
	lnfB   []float64
}

type block64 struct {
	ln1G, ln1B, qkvB, projB, ln2G, ln2B, fcB, fcProjB []float64
	qkv, proj, fc, fcProj                             [][]float64
}

// where names a site of ref64: a gpt2 site kind, or neurons (post-GELU).
type where struct {
	kind  string // embed, resid_post, attn_out, mlp_out, z, neurons
	layer int
}

func vec64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func rows64(w tensor.Matrix) [][]float64 {
	out := make([][]float64, w.Rows())
	row := make([]float32, w.Cols())
	for o := range out {
		w.Row(row, o)
		out[o] = vec64(row)
	}
	return out
}

func newRef64(m *gpt2.Model) *ref64 {
	r := &ref64{m: m, lnfG: vec64(m.LNFG), lnfB: vec64(m.LNFB)}
	for _, b := range m.Blocks {
		r.blocks = append(r.blocks, block64{
			ln1G: vec64(b.LN1G), ln1B: vec64(b.LN1B), qkvB: vec64(b.QKVB), projB: vec64(b.ProjB),
			ln2G: vec64(b.LN2G), ln2B: vec64(b.LN2B), fcB: vec64(b.FCB), fcProjB: vec64(b.FCProjB),
			qkv: rows64(b.QKV), proj: rows64(b.Proj), fc: rows64(b.FC), fcProj: rows64(b.FCProj),
		})
	}
	return r
}

func ln64(x [][]float64, g, b []float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, xi := range x {
		var mean, v float64
		for _, a := range xi {
			mean += a
		}
		mean /= float64(len(xi))
		for _, a := range xi {
			v += (a - mean) * (a - mean)
		}
		s := math.Sqrt(v/float64(len(xi)) + 1e-5)
		out[i] = make([]float64, len(xi))
		for k, a := range xi {
			out[i][k] = (a-mean)/s*g[k] + b[k]
		}
	}
	return out
}

func lin64(x, w [][]float64, b []float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, xi := range x {
		out[i] = make([]float64, len(w))
		for o, wo := range w {
			s := b[o]
			for k, a := range xi {
				s += a * wo[k]
			}
			out[i][o] = s
		}
	}
	return out
}

// metric runs ids and returns Σ weights·logit(targets) at the last position;
// hook sees every site's activation ([T][width]) and may change it.
func (r *ref64) metric(ids, targets []int, weights []float32, hook func(where, [][]float64)) float64 {
	m := r.m
	T, C, H := len(ids), m.Width, m.Heads
	d := C / H
	x := make([][]float64, T)
	row := make([]float32, C)
	for t, id := range ids {
		m.WTE.Row(row, id)
		x[t] = vec64(row)
		m.WPE.Row(row, t)
		for k, v := range row {
			x[t][k] += float64(v)
		}
	}
	hook(where{"embed", 0}, x)
	for l, b := range r.blocks {
		qkv := lin64(ln64(x, b.ln1G, b.ln1B), b.qkv, b.qkvB)
		z := make([][]float64, T)
		for i := range z {
			z[i] = make([]float64, C)
			for h := 0; h < H; h++ {
				s := make([]float64, i+1)
				mx := math.Inf(-1)
				for j := range s {
					for k := h * d; k < (h+1)*d; k++ {
						s[j] += qkv[i][k] * qkv[j][C+k]
					}
					s[j] /= math.Sqrt(float64(d))
					mx = max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					for k := h * d; k < (h+1)*d; k++ {
						z[i][k] += s[j] / sum * qkv[j][2*C+k]
					}
				}
			}
		}
		hook(where{"z", l}, z)
		a := lin64(z, b.proj, b.projB)
		hook(where{"attn_out", l}, a)
		for i := range x {
			for k := range x[i] {
				x[i][k] += a[i][k]
			}
		}
		f := lin64(ln64(x, b.ln2G, b.ln2B), b.fc, b.fcB)
		for _, fi := range f {
			for k, u := range fi {
				fi[k] = 0.5 * u * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(u+0.044715*u*u*u)))
			}
		}
		hook(where{"neurons", l}, f)
		mo := lin64(f, b.fcProj, b.fcProjB)
		hook(where{"mlp_out", l}, mo)
		for i := range x {
			for k := range x[i] {
				x[i][k] += mo[i][k]
			}
		}
		hook(where{"resid_post", l}, x)
	}
	h := ln64(x[T-1:], r.lnfG, r.lnfB)[0]
	var out float64
	for i, id := range targets {
		m.WTE.Row(row, id)
		for k, v := range row {
			out += float64(weights[i]) * float64(v) * h[k]
		}
	}
	return out
}

func gradAt(g *gpt2.Grad, w where) []float32 {
	if w.kind == "neurons" {
		return g.Neurons[w.layer]
	}
	k, err := gpt2.ParseSiteKind(w.kind)
	if err != nil {
		panic(err)
	}
	return g.Act(gpt2.Site{Kind: k, Layer: w.layer})
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
	ref := newRef64(m)
	base := ref.metric(ids, targets, weights, func(where, [][]float64) {})
	if _, want := gc.CorruptedLogitDiff, base; math.Abs(gc.CorruptedLogitDiff-base) > 1e-9 {
		t.Fatalf("float64 reference gives %.12g, golden %.12g", base, want)
	}
	var sites []where
	sites = append(sites, where{"embed", 0})
	for l := range m.Layers {
		for _, k := range []string{"z", "attn_out", "neurons", "mlp_out", "resid_post"} {
			sites = append(sites, where{k, l})
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
				return ref.metric(ids, targets, weights, func(at where, a [][]float64) {
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
				t.Errorf("%s.%d position %d: gradient·u = %.7g, finite difference %.7g (scale %.3g)", s.kind, s.layer, p, analytic, fd, scale)
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
			ref := newRef64(m)
			T, C, L := len(tc.ids), m.Width, m.Layers
			for k := 0; k < (T-1)*C; k++ {
				if g.MLPOut[L-1][k] != 0 || g.Z[L-1][k] != 0 {
					t.Fatal("last block: gradient before the last position")
				}
			}
			for _, s := range []where{{"embed", 0}, {"z", 0}, {"neurons", 1}, {"attn_out", L - 1}} {
				ga := gradAt(g, s)
				width := len(ga) / T
				for _, idx := range []int{0, width*(T-1) + 1, len(ga) - 1} {
					moved := func(e float64) float64 {
						return ref.metric(tc.ids, targets, weights, func(at where, a [][]float64) {
							if at == s {
								a[idx/width][idx%width] += e
							}
						})
					}
					fd := (moved(1e-5) - moved(-1e-5)) / 2e-5
					if math.Abs(fd-float64(ga[idx])) > 1e-4*max(1, math.Abs(fd)) {
						t.Errorf("%s.%d [%d]: gradient %.7g, finite difference %.7g", s.kind, s.layer, idx, ga[idx], fd)
					}
				}
			}
			if _, err := m.Backward(tr, []int{50}, []float32{1}); err == nil {
				t.Error("want an error for a target outside the vocabulary")
			}
		})
	}
}
