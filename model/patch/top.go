package patch

import "math"

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
// probable first (ties by lower id). It keeps the k best seen so far in
// order rather than sorting the whole vocabulary (50,257 logits for GPT-2,
// a tenth of a second in the browser, twice per run of the texts).
func Top(logits []float32, k int) []Prob {
	lse := LogSumExp(logits)
	k = max(0, min(k, len(logits)))
	best := make([]int, 0, k) // ids, most probable first
	for i, v := range logits {
		if k == 0 {
			break
		}
		if len(best) == k && !(v > logits[best[k-1]]) {
			continue
		}
		// After every id of a logit ≥ v: an earlier id wins a tie.
		at := len(best)
		for at > 0 && !(logits[best[at-1]] >= v) {
			at--
		}
		if len(best) < k {
			best = append(best, 0)
		}
		copy(best[at+1:], best[at:len(best)-1])
		best[at] = i
	}
	out := make([]Prob, k)
	for i, id := range best {
		out[i] = Prob{ID: id, P: math.Exp(float64(logits[id]) - lse)}
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
