package patch

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
)

// TestMetrics checks every metric against its definition, computed from
// the naive sweep's full logits, and the fixed points of normalized: 0 where
// a cell is the corrupted run, 1 where it is the clean run.
func TestMetrics(t *testing.T) {
	s := randomCase(t, gpt2.Config{Layers: 3, Heads: 2, Width: 32, Context: 16, Vocab: 200}, 6, 1)
	site := Site{Kind: gpt2.ResidPost}
	mx, err := s.Sweep(context.Background(), site, Options{Probs: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	naive := naiveSweep(s, site)
	softmax := func(c Cell, id int) float64 {
		v := c.Clean
		if id == s.CorruptedTarget {
			v = c.Corrupted
		}
		return math.Exp(float64(v) - c.LSE)
	}
	T, last := s.T(), s.Model.Layers-1
	for m, want := range map[Metric]func(i int) float64{
		LogitDiff: func(i int) float64 {
			return float64(naive.Cells[i].Corrupted) - float64(naive.Cells[i].Clean)
		},
		CleanTargetDelta: func(i int) float64 { return float64(naive.Cells[i].Clean) - float64(s.CleanBase.Clean) },
		ProbDiff: func(i int) float64 {
			return softmax(naive.Cells[i], s.CorruptedTarget) - softmax(naive.Cells[i], s.CleanTarget)
		},
		Normalized: func(i int) float64 {
			return (naive.Cells[i].Diff() - s.CorruptedBase.Diff()) / (s.CleanBase.Diff() - s.CorruptedBase.Diff())
		},
	} {
		vals, err := s.Values(mx, m)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if math.Abs(v-want(i)) > 1e-5*max(1, math.Abs(want(i))) {
				t.Errorf("%v cell %d: %g, want %g", m, i, v, want(i))
			}
		}
		if m == Normalized && (vals[0] != 0 || vals[last*T+T-1] != 1) {
			t.Errorf("normalized: %g before the first difference (want 0), %g at the last layer's last position (want 1)", vals[0], vals[last*T+T-1])
		}
	}
	if _, err := s.Values(mx, ProbDiff); err != nil {
		t.Fatal(err)
	}
	noProbs, _ := s.Sweep(context.Background(), site, Options{}, nil)
	if _, err := s.Values(noProbs, ProbDiff); err == nil {
		t.Error("prob_diff on a sweep without probabilities: want an error")
	}
}

func TestNormalizedFlatBaselines(t *testing.T) {
	s := randomCase(t, gpt2.Config{Layers: 2, Heads: 2, Width: 32, Context: 16, Vocab: 100}, 4) // identical texts
	mx, err := s.Sweep(context.Background(), Site{Kind: gpt2.ResidPost}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Values(mx, Normalized); !errors.Is(err, ErrFlatBaselines) {
		t.Fatalf("got %v, want ErrFlatBaselines", err)
	}
}

// TestSweepCancel: a cancelled context stops the sweep with its error, and
// rows already finished were reported.
func TestSweepCancel(t *testing.T) {
	s := randomCase(t, gpt2.Config{Layers: 6, Heads: 2, Width: 32, Context: 16, Vocab: 100}, 8, 1)
	ctx, cancel := context.WithCancel(context.Background())
	rows := map[int]bool{}
	_, err := s.Sweep(ctx, Site{Kind: gpt2.ResidPost}, Options{}, func(r, c int, _ Cell) {
		rows[r] = true
		if r == 1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if len(rows) != 2 {
		t.Errorf("rows reported: %v, want 0 and 1", rows)
	}
}

// TestSweepRows: a sweep of some rows gives the same cells as the full one.
func TestSweepRows(t *testing.T) {
	s := randomCase(t, gpt2.Config{Layers: 4, Heads: 2, Width: 32, Context: 16, Vocab: 100}, 5, 1)
	site := Site{Kind: gpt2.AttnOut}
	full, _ := s.Sweep(context.Background(), site, Options{}, nil)
	part, err := s.Sweep(context.Background(), site, Options{Rows: []int{3, 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []int{1, 3} {
		for c := 0; c < part.Cols; c++ {
			if p, f := part.Cells[r*part.Cols+c], full.Cells[r*full.Cols+c]; p.Clean != f.Clean || p.Corrupted != f.Corrupted {
				t.Fatalf("row %d col %d differs", r, c)
			}
		}
	}
	if _, err := s.Sweep(context.Background(), site, Options{Rows: []int{4}}, nil); err == nil {
		t.Error("row out of range: want an error")
	}
}
