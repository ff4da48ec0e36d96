package patch

import (
	"math"
	"math/rand/v2"
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
