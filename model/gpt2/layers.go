package gpt2

import (
	"math"

	"github.com/patchlab/patchlab/model/tensor"
)

const lnEps = 1e-5

// layerNorm normalises each of the n rows of x (width c) into out:
// out = (x − mean) / sqrt(var + 1e-5) · g + b. Statistics in float64.
func layerNorm(out, x, g, b []float32, n, c int) {
	for i := 0; i < n; i++ {
		xi, oi := x[i*c:(i+1)*c], out[i*c:(i+1)*c]
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
		inv := float32(1 / math.Sqrt(ss/float64(c)+lnEps))
		tensor.Normalize(oi, xi, float32(mean), inv, g, b)
	}
}

// linear computes y = x·Wᵀ + bias for n rows.
func linear(y, x []float32, w tensor.Matrix, bias []float32, n int) {
	w.MulT(y, x, n)
	r := w.Rows()
	for i := 0; i < n; i++ {
		tensor.Axpy(1, bias, y[i*r:(i+1)*r]) // y += bias: 1·b is exact
	}
}

// gelu applies GPT-2's GELU (tensor.GELU) in place. It is a fifth of a
// sweep's time, so long slices are split across threads.
func gelu(x []float32) {
	tensor.Parallel(len(x), 4096, 16*len(x), func(lo, hi int) {
		tensor.GELU(x[lo:hi])
	})
}

// add computes dst[i] = a[i] + b[i].
func add(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// attendRow computes one query row's causal attention for every head,
// writing z (Width values). The row attends first to the nPre cached
// positions in preK/preV (rows of width c), then to the nOwn freshly computed
// ones in own (rows of width 3c: q, k, v). scores is scratch of ≥ nPre+nOwn.
func attendRow(z, q, preK, preV, own []float32, nPre, nOwn, c, heads int, scores []float32) {
	d := c / heads
	scale := float32(1 / math.Sqrt(float64(d)))
	n := nPre + nOwn
	key := func(j int) []float32 {
		if j < nPre {
			return preK[j*c : (j+1)*c]
		}
		return own[(j-nPre)*3*c+c : (j-nPre)*3*c+2*c]
	}
	val := func(j int) []float32 {
		if j < nPre {
			return preV[j*c : (j+1)*c]
		}
		return own[(j-nPre)*3*c+2*c : (j-nPre)*3*c+3*c]
	}
	for h := 0; h < heads; h++ {
		p := scores[:n]
		attnProbs(p, q[h*d:(h+1)*d], func(j int) []float32 { return key(j)[h*d : (h+1)*d] }, scale)
		zh := z[h*d : (h+1)*d]
		clear(zh)
		for j := 0; j < n; j++ {
			tensor.Axpy(p[j], val(j)[h*d:(h+1)*d], zh)
		}
	}
}

// attnProbs writes into p one head's attention probabilities for the query
// qh over the keys key(0), …, key(len(p)−1): softmax(q·k·scale). Every
// reader of attention (the forward pass, the patterns, the backward pass)
// computes them here, so they agree bit for bit.
func attnProbs(p, qh []float32, key func(j int) []float32, scale float32) {
	for j := range p {
		p[j] = tensor.Dot(qh, key(j)) * scale
	}
	inv := 1 / tensor.SoftmaxExp(p)
	for j := range p {
		p[j] *= inv
	}
}
