package patch

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// Rank and Prob1 agree with the sorted table Top makes.
func TestRankAndProb1AgreeWithTop(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 500)
	for i := range logits {
		logits[i] = float32(r.NormFloat64())
	}
	logits[7] = logits[3] // a tie: the lower id ranks first
	top := Top(logits, len(logits))
	for rank, p := range top {
		if got := Rank(logits, p.ID); got != rank+1 {
			t.Fatalf("Rank(%d) = %d, Top puts it at %d", p.ID, got, rank+1)
		}
		if got := Prob1(logits, p.ID); math.Abs(got-p.P) > 1e-12 {
			t.Fatalf("Prob1(%d) = %g, Top says %g", p.ID, got, p.P)
		}
	}
}

// Top lists the same tokens in the same order as a stable sort of the whole
// vocabulary by logit (ties by lower id), for any k, with many ties.
func TestTopIsTheSortedVocabularysHead(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	logits := make([]float32, 3000)
	for i := range logits {
		logits[i] = float32(r.IntN(400)) / 16 // few distinct values: ties everywhere
	}
	ids := make([]int, len(logits))
	for i := range ids {
		ids[i] = i
	}
	sort.SliceStable(ids, func(a, b int) bool { return logits[ids[a]] > logits[ids[b]] })
	for _, k := range []int{0, 1, 2, 20, 777, len(logits), len(logits) + 5} {
		top := Top(logits, k)
		if want := min(k, len(logits)); len(top) != want {
			t.Fatalf("Top(k=%d) has %d entries, want %d", k, len(top), want)
		}
		for i, p := range top {
			if p.ID != ids[i] {
				t.Fatalf("Top(k=%d)[%d] is token %d (logit %g), the sorted vocabulary has %d (logit %g)", k, i, p.ID, logits[p.ID], ids[i], logits[ids[i]])
			}
		}
	}
}
