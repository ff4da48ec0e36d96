package patch

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/webfmt"
)

// randomCase is a model and two texts of t tokens that differ at the given positions.
func randomCase(t *testing.T, cfg gpt2.Config, n int, diff ...int) *Session {
	t.Helper()
	m := gpt2.Random(cfg, 7)
	r := rand.New(rand.NewPCG(1, 2))
	clean := make([]int, n)
	for i := range clean {
		clean[i] = r.IntN(cfg.Vocab)
	}
	corrupted := append([]int(nil), clean...)
	for _, p := range diff {
		corrupted[p] = (clean[p] + 1) % cfg.Vocab
	}
	s, err := NewSession(m, clean, corrupted, clean[1], corrupted[1])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// compare checks that every cell of got is within tol of want, for the
// target logits and (where both have it) the log-sum-exp.
func compare(t *testing.T, name string, got, want *Matrix, tol float64) {
	t.Helper()
	worst := 0.0
	for i := range want.Cells {
		g, w := got.Cells[i], want.Cells[i]
		for _, d := range []float64{float64(g.Clean - w.Clean), float64(g.Corrupted - w.Corrupted)} {
			worst = max(worst, math.Abs(d))
		}
		if !math.IsNaN(g.LSE) {
			worst = max(worst, math.Abs(g.LSE-w.LSE))
		}
	}
	if worst > tol {
		t.Errorf("%s: worst difference from the naive sweep %g > %g", name, worst, tol)
	}
	t.Logf("%s: worst difference from the naive sweep %g", name, worst)
}

func TestSweepEqualsNaive(t *testing.T) {
	cases := []struct {
		name string
		cfg  gpt2.Config
		n    int
		diff []int
		bits int // web-format weights with codes of this width; 0: float32
	}{
		{"web-format weights, 9 bits", gpt2.Config{Layers: 3, Heads: 2, Width: 64, Context: 16, Vocab: 100}, 6, []int{2}, 9},
		{"web-format weights, 14 bits", gpt2.Config{Layers: 2, Heads: 2, Width: 64, Context: 16, Vocab: 100}, 5, []int{1}, 14},
		{"4 layers, one difference", gpt2.Config{Layers: 4, Heads: 4, Width: 64, Context: 32, Vocab: 300}, 9, []int{1}, 0},
		{"12 layers, two differences", gpt2.Config{Layers: 12, Heads: 4, Width: 64, Context: 32, Vocab: 300}, 7, []int{2, 5}, 0},
		{"difference at the last position", gpt2.Config{Layers: 3, Heads: 2, Width: 32, Context: 16, Vocab: 100}, 5, []int{4}, 0},
		{"identical texts", gpt2.Config{Layers: 2, Heads: 2, Width: 32, Context: 16, Vocab: 100}, 4, nil, 0},
		{"a long text: several batches a row", gpt2.Config{Layers: 2, Heads: 2, Width: 32, Context: 64, Vocab: 100}, 40, []int{1}, 0},
	}
	for _, tc := range cases {
		s := randomCase(t, tc.cfg, tc.n, tc.diff...)
		if tc.bits != 0 {
			var err error
			if s, err = NewSession(webfmt.Quantize(s.Model, tc.bits), s.CleanIDs, s.CorruptedIDs, s.CleanTarget, s.CorruptedTarget); err != nil {
				t.Fatal(err)
			}
		}
		for _, site := range Sites {
			want := naiveSweep(s, site)
			for _, probs := range []bool{false, true} {
				got, err := s.Sweep(context.Background(), site, Options{Probs: probs}, nil)
				if err != nil {
					t.Fatal(err)
				}
				compare(t, tc.name+"/"+site.String(), got, want, 0) // bit for bit
			}
		}
	}
}

// naiveSweep is NaiveSweep for tests.
func naiveSweep(s *Session, site Site) *Matrix {
	mx, err := NaiveSweep(context.Background(), s, site)
	if err != nil {
		panic(err)
	}
	return mx
}
