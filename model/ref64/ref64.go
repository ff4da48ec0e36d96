// Package ref64 is GPT-2 written out again in float64, straight from the
// maths and independent of the engine's kernels, with a hook at every site
// and at the MLP neurons that may change the activation: the reference that
// tests check gradients (by finite differences) and patches against. It is
// slow and for tests only.
package ref64

import (
	"math"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// Model is a GPT-2 model's weights in float64.
type Model struct {
	m      *gpt2.Model
	blocks []block64
	lnfG   []float64
	lnfB   []float64
}

type block64 struct {
	ln1G, ln1B, qkvB, projB, ln2G, ln2B, fcB, fcProjB []float64
	qkv, proj, fc, fcProj                             [][]float64
}

// Where names a site: a gpt2 site kind's name (embed, resid_post, attn_out,
// mlp_out, z) or "neurons" (the MLP's neurons after GELU), and a layer.
type Where struct {
	Kind  string
	Layer int
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

// New converts m's weights to float64.
func New(m *gpt2.Model) *Model {
	r := &Model{m: m, lnfG: vec64(m.LNFG), lnfB: vec64(m.LNFB)}
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

// Metric runs ids and returns Σ weights·logit(targets) at the last
// position; hook (may be nil) sees every site's activation ([T][width]) and
// may change it.
func (r *Model) Metric(ids, targets []int, weights []float32, hook func(Where, [][]float64)) float64 {
	m := r.m
	call := func(w Where, a [][]float64) {
		if hook != nil {
			hook(w, a)
		}
	}
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
	call(Where{"embed", 0}, x)
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
		call(Where{"z", l}, z)
		a := lin64(z, b.proj, b.projB)
		call(Where{"attn_out", l}, a)
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
		call(Where{"neurons", l}, f)
		mo := lin64(f, b.fcProj, b.fcProjB)
		call(Where{"mlp_out", l}, mo)
		for i := range x {
			for k := range x[i] {
				x[i][k] += mo[i][k]
			}
		}
		call(Where{"resid_post", l}, x)
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
