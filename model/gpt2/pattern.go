package gpt2

import (
	"math"
)

// This file reads a recorded run back for the views beside the heatmap
// (package inspect): the attention patterns, from the queries and keys the
// trace keeps, and the final LayerNorm's scale.

// Pattern is block l's attention probabilities in the run tr recorded,
// [Heads][T][T]: p[h][q][k] is how much query position q reads key position
// k (0 for k > q). Each row is the softmax the forward pass weighted the
// values with, bit for bit.
func (m *Model) Pattern(l int, tr *Trace) []float32 {
	t, c, heads := tr.T, m.Width, m.Heads
	d := c / heads
	scale := float32(1 / math.Sqrt(float64(d)))
	q, k := tr.Q[l], tr.K[l]
	p := make([]float32, heads*t*t)
	for h := range heads {
		for i := range t {
			row := p[(h*t+i)*t : (h*t+i+1)*t]
			qh := q[i*c+h*d : i*c+(h+1)*d]
			attnProbs(row[:i+1], qh, func(j int) []float32 { return k[j*c+h*d : j*c+(h+1)*d] }, scale)
		}
	}
	return p
}

// LNScale is σ = √(var(x) + ε), what the model's LayerNorm divides a
// centred vector x by, with its statistics in float64 as layerNorm has them.
func LNScale(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	return math.Sqrt(ss/float64(len(x)) + lnEps)
}
