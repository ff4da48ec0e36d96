package gpt2

import (
	"fmt"
	"math"
	"slices"

	"github.com/patchlab/patchlab/model/tensor"
)

// Grad is ∂metric/∂a for one run at every site: the gradient of a metric
// read at the last position with respect to each activation of the run,
// laid out as the Trace lays out the activations ([T][Width] per site).
// MLPOut[l] is the same slice as Resid[l], since the MLP's output is added
// straight into the residual stream; likewise AttnOut[l] is the gradient of
// the residual after attention.
type Grad struct {
	T int
	Sites
	// Neurons is the gradient with respect to each MLP neuron after GELU,
	// [L][T][4·Width] (the run's own neuron values: NeuronActs).
	Neurons [][]float32
}

// Bytes is the memory the gradients hold.
func (g *Grad) Bytes() int64 {
	n := len(g.Embed)
	for l := range g.Resid {
		n += len(g.Resid[l]) + len(g.AttnOut[l]) + len(g.Z[l]) + len(g.Neurons[l])
	}
	return 4 * int64(n)
}

// Backward computes the gradient of metric = Σ_i weights[i]·logit(targets[i])
// at the last position of the run that tr recorded (Forward with record),
// with respect to every activation of that run. Only activations are
// differentiated, not weights. The trace keeps the queries and (up to
// HiddenMaxT tokens) the MLPs' hidden values the pass needs; longer runs'
// hidden values are recomputed block by block on the way down.
func (m *Model) Backward(tr *Trace, targets []int, weights []float32) (*Grad, error) {
	return m.BackwardFrom(tr, targets, weights, 0)
}

// BackwardFrom is Backward at positions first…T−1 only: the gradients
// there are the same (a position's gradient comes from the positions at
// and after it), those before are left 0. Attribution patching needs no
// more: before the texts' first difference both runs' activations agree.
func (m *Model) BackwardFrom(tr *Trace, targets []int, weights []float32, first int) (*Grad, error) {
	if tr == nil || tr.T < 1 || len(tr.Resid) != m.Layers {
		return nil, fmt.Errorf("gpt2: Backward needs a trace of this model's run")
	}
	if first < 0 || first >= tr.T {
		return nil, fmt.Errorf("gpt2: Backward from position %d of %d", first, tr.T)
	}
	if len(targets) != len(weights) {
		return nil, fmt.Errorf("gpt2: Backward: %d targets, %d weights", len(targets), len(weights))
	}
	for _, id := range targets {
		if id < 0 || id >= m.Vocab {
			return nil, fmt.Errorf("target token %d is outside the vocabulary (0…%d)", id, m.Vocab-1)
		}
	}
	L, T, C := m.Layers, tr.T, m.Width
	g := newGrad(L, T, C)

	// The metric is (Σ weights·wte rows) · ln_f(final residual at T−1).
	dh, row := make([]float32, C), make([]float32, C)
	for i, id := range targets {
		m.WTE.Row(row, id)
		tensor.Axpy(weights[i], row, dh)
	}
	layerNormBack(g.Resid[L-1][(T-1)*C:], tr.Resid[L-1][(T-1)*C:], m.LNFG, dh, 1, C)

	var sc backScratch
	for l := L - 1; l >= 0; l-- {
		// Only the last position reaches the metric from the last block's
		// output, so there the MLP and the query side run on one row.
		from := first
		if l == L-1 {
			from = T - 1
		}
		dIn := g.Embed
		if l > 0 {
			dIn = g.Resid[l-1]
		}
		m.blockBack(l, tr, g, dIn, from, first, &sc)
	}
	return g, nil
}

func newGrad(layers, t, c int) *Grad {
	g := &Grad{T: t, Sites: Sites{Embed: make([]float32, t*c)}}
	for _, p := range []*[][]float32{&g.Resid, &g.AttnOut, &g.Z, &g.Neurons} {
		*p = make([][]float32, layers)
	}
	for l := 0; l < layers; l++ {
		g.Resid[l] = make([]float32, t*c)
		g.AttnOut[l] = make([]float32, t*c)
		g.Z[l] = make([]float32, t*c)
		g.Neurons[l] = make([]float32, t*4*c)
	}
	g.MLPOut = g.Resid
	return g
}

type backScratch struct {
	mid, h, pre, dpre, dh, dqkv []float32
}

// blockBack takes the gradient at block l's output (g.Resid[l], zero before
// row from) down to its input, writing dIn and every site of the block at
// rows first…T−1 (first ≤ from).
func (m *Model) blockBack(l int, tr *Trace, g *Grad, dIn []float32, from, first int, sc *backScratch) {
	b := &m.Blocks[l]
	T, C, F := tr.T, m.Width, 4*m.Width
	n := T - from
	in := tr.ResidPre(l)

	// MLP, from row from: its input (the residual after attention) and
	// hidden values (GELU's input).
	sc.mid = grow(sc.mid, n*C)
	add(sc.mid, in[from*C:], tr.AttnOut[l][from*C:])
	pre := m.hidden(tr, l, from, sc)
	// Each tensor.MulN is the gradient through a linear map y = x·Wᵀ: dx = dy·W.
	dOut := g.Resid[l][from*C:]
	dAct := g.Neurons[l][from*F:]
	tensor.MulN(dAct, dOut, n, b.FCProj)
	sc.dpre = grow(sc.dpre, n*F)
	for i, u := range pre {
		sc.dpre[i] = dAct[i] * geluSlope(u)
	}
	sc.dh = grow(sc.dh, T*C)
	tensor.MulN(sc.dh, sc.dpre, n, b.FC)
	dMid := g.AttnOut[l]
	copy(dMid[from*C:], dOut)
	layerNormBack(dMid[from*C:], sc.mid, b.LN2G, sc.dh, n, C)

	// Attention: z's gradient, then through the softmax to q, k and v.
	tensor.MulN(g.Z[l][from*C:], dMid[from*C:], n, b.Proj)
	sc.dqkv = grow(sc.dqkv, T*3*C)
	clear(sc.dqkv)
	attendBack(sc.dqkv, g.Z[l], tr.Q[l], tr.K[l], tr.V[l], from, T, C, m.Heads)

	// Through c_attn and ln_1 to the block's input, plus the residual path.
	n = T - first
	tensor.MulN(sc.dh, sc.dqkv[first*3*C:], n, b.QKV)
	copy(dIn[first*C:], dMid[first*C:])
	layerNormBack(dIn[first*C:], in[first*C:], b.LN1G, sc.dh, n, C)
}

// hidden is block l's MLP hidden values (GELU's input) at rows from…T−1 of
// the run tr recorded, [T−from][4·Width]: the trace's, or recomputed from
// mid, those rows' residual after attention, into sc.pre.
func (m *Model) hidden(tr *Trace, l, from int, sc *backScratch) []float32 {
	F := 4 * m.Width
	if tr.Hidden != nil {
		return tr.Hidden[l][from*F:]
	}
	b := &m.Blocks[l]
	n := tr.T - from
	sc.h = grow(sc.h, n*m.Width)
	layerNorm(sc.h, sc.mid, b.LN2G, b.LN2B, n, m.Width)
	sc.pre = grow(sc.pre, n*F)
	linear(sc.pre, sc.h, b.FC, b.FCB, n)
	return sc.pre
}

// attendBack adds to dqkv ([T][3C]: q, k, v) the gradient of causal
// attention given dz ([T][C]) for query rows from…T−1. The attention
// probabilities are recomputed from q and k as attendRow computes them.
func attendBack(dqkv, dz, q, k, v []float32, from, T, C, heads int) {
	d := C / heads
	scale := float32(1 / math.Sqrt(float64(d)))
	tensor.Parallel(heads, 1, heads*(T-from)*T*d*4, func(h0, h1 int) {
		p, dp := make([]float32, T), make([]float32, T)
		for h := h0; h < h1; h++ {
			lo, hi := h*d, (h+1)*d
			for i := from; i < T; i++ {
				qh, dzh := q[i*C+lo:i*C+hi], dz[i*C+lo:i*C+hi]
				attnProbs(p[:i+1], qh, func(j int) []float32 { return k[j*C+lo : j*C+hi] }, scale)
				// z_i = Σ_j p_j v_j: dp_j = dz_i·v_j, dv_j += p_j dz_i.
				var pdp float64
				for j := 0; j <= i; j++ {
					dp[j] = tensor.Dot(dzh, v[j*C+lo:j*C+hi])
					pdp += float64(p[j]) * float64(dp[j])
					tensor.Axpy(p[j], dzh, dqkv[j*3*C+2*C+lo:])
				}
				// Softmax: ds_j = p_j (dp_j − Σ p·dp); s_j = q·k_j·scale.
				dq := dqkv[i*3*C+lo:]
				for j := 0; j <= i; j++ {
					ds := p[j] * (dp[j] - float32(pdp)) * scale
					tensor.Axpy(ds, k[j*C+lo:j*C+hi], dq)
					tensor.Axpy(ds, qh, dqkv[j*3*C+C+lo:])
				}
			}
		}
	})
}

// layerNormBack adds to dx the gradient through out = (x − mean)/σ·g + b
// of dy, for n rows of width c: (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))/σ with
// dx̂ = dy·g. Statistics in float64, as layerNorm computes them.
func layerNormBack(dx, x, g, dy []float32, n, c int) {
	for i := 0; i < n; i++ {
		xi, dyi, dxi := x[i*c:(i+1)*c], dy[i*c:(i+1)*c], dx[i*c:(i+1)*c]
		var sum float64
		for _, v := range xi {
			sum += float64(v)
		}
		mean := sum / float64(c)
		var ss float64
		for _, v := range xi {
			d := float64(v) - mean
			ss += d * d
		}
		inv := 1 / math.Sqrt(ss/float64(c)+lnEps)
		var sg, sgx float64
		for k, v := range xi {
			gk := float64(dyi[k]) * float64(g[k])
			sg += gk
			sgx += gk * (float64(v) - mean) * inv
		}
		sg /= float64(c)
		sgx /= float64(c)
		for k, v := range xi {
			xh := (float64(v) - mean) * inv
			dxi[k] += float32(inv * (float64(dyi[k])*float64(g[k]) - sg - xh*sgx))
		}
	}
}

// geluSlope is the derivative of gelu at u: with gelu(u) = u·σ(z),
// z = 2·√(2/π)·(u + 0.044715·u³), it is σ + u·σ(1−σ)·dz/du.
func geluSlope(u32 float32) float32 {
	const s2 = 2 * 0.7978845608028654
	u := float64(u32)
	s := 1 / (1 + math.Exp(-s2*(u+0.044715*u*u*u)))
	return float32(s + u*s*(1-s)*s2*(1+3*0.044715*u*u))
}

// NeuronActs is block l's MLP neurons (after GELU) at positions from…T−1
// of the run tr recorded, as the forward pass computed them:
// [T−from][4·Width]. Runs longer than HiddenMaxT recompute them.
func (m *Model) NeuronActs(tr *Trace, l, from int) []float32 {
	C, n := m.Width, tr.T-from
	if tr.Hidden != nil {
		f := slices.Clone(tr.Hidden[l][from*4*C:])
		gelu(f)
		return f
	}
	b := &m.Blocks[l]
	mid := make([]float32, n*C)
	add(mid, tr.ResidPre(l)[from*C:], tr.AttnOut[l][from*C:])
	h := make([]float32, n*C)
	layerNorm(h, mid, b.LN2G, b.LN2B, n, C)
	f := make([]float32, n*4*C)
	linear(f, h, b.FC, b.FCB, n)
	gelu(f)
	return f
}

// NeuronAct is one of block l's MLP neurons (after GELU) at position pos of
// the run tr recorded: element i of NeuronActs' row pos, bit for bit.
func (m *Model) NeuronAct(tr *Trace, l, pos, i int) float32 {
	b := &m.Blocks[l]
	C := m.Width
	f := make([]float32, 1)
	if tr.Hidden != nil {
		f[0] = tr.Hidden[l][pos*4*C+i]
	} else {
		mid := make([]float32, C)
		add(mid, tr.ResidPre(l)[pos*C:(pos+1)*C], tr.AttnOut[l][pos*C:(pos+1)*C])
		h := make([]float32, C)
		layerNorm(h, mid, b.LN2G, b.LN2B, 1, C)
		b.FC.MulTRows(f, h, 1, []int{i})
		f[0] += b.FCB[i]
	}
	gelu(f)
	return f[0]
}
