package patch

import (
	"math"
	"sort"
)

// Prob is one token's probability.
type Prob struct {
	ID int
	P  float64
}

// LogSumExp is log Σ exp(logits), in float64.
func LogSumExp(logits []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, float64(v))
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

// Top returns the k most probable tokens under softmax(logits), most
// probable first (ties by lower id).
func Top(logits []float32, k int) []Prob {
	lse := LogSumExp(logits)
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	k = min(k, len(idx))
	out := make([]Prob, k)
	for i := range out {
		out[i] = Prob{ID: idx[i], P: math.Exp(float64(logits[idx[i]]) - lse)}
	}
	return out
}

// Rank is token id's rank under logits: 1 for the most probable (ties by
// lower id, as Top orders them).
func Rank(logits []float32, id int) int {
	r := 1
	for i, v := range logits {
		if v > logits[id] || (v == logits[id] && i < id) {
			r++
		}
	}
	return r
}

// Prob1 is token id's probability under softmax(logits).
func Prob1(logits []float32, id int) float64 {
	return math.Exp(float64(logits[id]) - LogSumExp(logits))
}
