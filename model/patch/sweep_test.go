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
		sessions := map[string]*Session{"text": s}
		if tc.diff != nil && tc.cfg.Layers*tc.n < 40 { // the same positions corrupted by Gaussian noise instead (small cases: the naive sweep is slow)
			sessions["noise"] = noised(t, s, tc.diff, 3)
		}
		for corruption, s := range sessions {
			for _, dir := range []Direction{Denoise, Noise} {
				for _, site := range Sites {
					want := naiveSweepDir(s, site, dir)
					for _, probs := range []bool{false, true} {
						got, err := s.Sweep(context.Background(), site, Options{Probs: probs, Direction: dir}, nil)
						if err != nil {
							t.Fatal(err)
						}
						compare(t, tc.name+"/"+corruption+"/"+dir.String()+"/"+site.String(), got, want, 0) // bit for bit
					}
				}
			}
		}
	}
}

// noised is s's clean text corrupted by Gaussian noise of scale × wte's
// standard deviation at positions.
func noised(t *testing.T, s *Session, positions []int, scale float64) *Session {
	t.Helper()
	noise, err := GaussianNoise(s.T(), s.Model.Width, positions, scale*EmbedStd(s.Model), 5)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNoiseSession(s.Model, s.CleanIDs, noise, s.CleanTarget, s.CorruptedTarget)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// naiveSweep is NaiveSweep for tests.
func naiveSweep(s *Session, site Site) *Matrix { return naiveSweepDir(s, site, Denoise) }

func naiveSweepDir(s *Session, site Site, dir Direction) *Matrix {
	mx, err := NaiveSweepDirection(context.Background(), s, site, dir)
	if err != nil {
		panic(err)
	}
	return mx
}
