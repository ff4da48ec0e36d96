package patch

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
)

func TestGaussianNoiseSeed(t *testing.T) {
	a, err := GaussianNoise(6, 32, []int{1, 4}, 0.5, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GaussianNoise(6, 32, []int{1, 4}, 0.5, 9)
	c, _ := GaussianNoise(6, 32, []int{1, 4}, 0.5, 10)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different noise")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 9 and 10 gave the same noise")
	}
	for p := range 6 {
		row := a[p*32 : (p+1)*32]
		zero := !slices.ContainsFunc(row, func(v float32) bool { return v != 0 })
		if zero != (p != 1 && p != 4) {
			t.Errorf("position %d: all zero %v", p, zero)
		}
	}
	for _, bad := range [][]int{nil, {4, 1}, {1, 1}, {6}, {-1}} {
		if _, err := GaussianNoise(6, 32, bad, 0.5, 9); err == nil {
			t.Errorf("positions %v: no error", bad)
		}
	}
}

// TestGaussianNoiseStd draws n = 200 000 values with σ = 0.7 and checks
// their mean and standard deviation. The sample mean's standard error is
// σ/√n ≈ 0.0016 and the sample standard deviation's σ/√(2n) ≈ 0.0011; the
// tolerance is 5 standard errors (a false alarm about once in 1.7 million
// seeds; the seed is fixed, so the test is deterministic).
func TestGaussianNoiseStd(t *testing.T) {
	const T, width, sigma = 400, 500, 0.7
	positions := make([]int, T)
	for i := range positions {
		positions[i] = i
	}
	noise, err := GaussianNoise(T, width, positions, sigma, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(len(noise))
	var sum, sq float64
	for _, v := range noise {
		sum += float64(v)
	}
	mean := sum / n
	for _, v := range noise {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	std := math.Sqrt(sq / (n - 1))
	if se := sigma / math.Sqrt(n); math.Abs(mean) > 5*se {
		t.Errorf("mean %g, want 0 ± %g", mean, 5*se)
	}
	if se := sigma / math.Sqrt(2*n); math.Abs(std-sigma) > 5*se {
		t.Errorf("standard deviation %g, want %g ± %g", std, sigma, 5*se)
	}
	t.Logf("mean %.5f, standard deviation %.5f (asked %g)", mean, std, sigma)
}

// TestEmbedStd checks EmbedStd against a direct computation over the
// model's rows.
func TestEmbedStd(t *testing.T) {
	m := gpt2.Random(gpt2.Config{Layers: 1, Heads: 2, Width: 32, Context: 8, Vocab: 50}, 3)
	var vals []float64
	row := make([]float32, m.Width)
	for r := range m.Vocab {
		m.WTE.Row(row, r)
		for _, v := range row {
			vals = append(vals, float64(v))
		}
	}
	var mean, sq float64
	for _, v := range vals {
		mean += v / float64(len(vals))
	}
	for _, v := range vals {
		sq += (v - mean) * (v - mean)
	}
	want := math.Sqrt(sq / float64(len(vals)))
	if got := EmbedStd(m); math.Abs(got-want) > 1e-12*want {
		t.Errorf("EmbedStd %g, want %g", got, want)
	}
}

// TestNoiseSession: the corrupted run's embedding is the clean one plus the
// noise at the noised positions and equal elsewhere, its first difference is
// the first noised position, and the invariants hold in both directions on
// the naive sweep (where nothing is special-cased): columns before the
// first difference equal the patched run, and resid_post's last layer, last
// position equals the donor run.
func TestNoiseSession(t *testing.T) {
	s := randomCase(t, gpt2.Config{Layers: 3, Heads: 2, Width: 32, Context: 16, Vocab: 100}, 6, 2)
	n := noised(t, s, []int{2, 3}, 3)
	C, T := s.Model.Width, s.T()
	if n.FirstDiff != 2 || !slices.Equal(n.CorruptedIDs, s.CleanIDs) {
		t.Fatalf("first difference %d, corrupted ids %v", n.FirstDiff, n.CorruptedIDs)
	}
	if r, err := s.Renoise(n.Noise); err != nil || r.Clean != s.Clean || r.CorruptedBase != n.CorruptedBase {
		t.Errorf("Renoise: %v; it must share the clean trace and give the same corrupted run", err)
	}
	for i, v := range n.Corrupted.Embed {
		want := n.Clean.Embed[i] + n.Noise[i]
		if p := i / C; v != want || (p != 2 && p != 3 && v != n.Clean.Embed[i]) {
			t.Fatalf("embedding at position %d: %g, want %g", p, v, want)
		}
	}
	same := func(a, b Cell) bool { return a.Clean == b.Clean && a.Corrupted == b.Corrupted }
	for _, dir := range []Direction{Denoise, Noise} {
		p := n.pass(dir)
		mx := naiveSweepDir(n, Site{Kind: gpt2.ResidPost}, dir)
		for r := range mx.Rows {
			for c := range n.FirstDiff {
				if !same(mx.Cells[r*T+c], p.baseCell) {
					t.Errorf("%v: cell (%d, %d) before the first difference is not the patched run", dir, r, c)
				}
			}
		}
		if !same(mx.Cells[len(mx.Cells)-1], p.donorCell) {
			t.Errorf("%v: last layer, last position is not the donor run", dir)
		}
	}
	if same(n.CleanBase, n.CorruptedBase) {
		t.Error("the noise changed nothing")
	}
}

// TestDirectionsDiffer guards against a sweep that ignores its direction:
// noising the clean run is not denoising the corrupted one.
func TestDirectionsDiffer(t *testing.T) {
	s := randomCase(t, gpt2.Config{Layers: 2, Heads: 2, Width: 32, Context: 16, Vocab: 100}, 5, 1)
	a, _ := s.Sweep(context.Background(), Site{Kind: gpt2.ResidPost}, Options{}, nil)
	b, _ := s.Sweep(context.Background(), Site{Kind: gpt2.ResidPost}, Options{Direction: Noise}, nil)
	if a.Cells[0].Diff() != s.CorruptedBase.Diff() || b.Cells[0].Diff() != s.CleanBase.Diff() {
		t.Errorf("position 0 (before the difference): denoise %v, noise %v", a.Cells[0], b.Cells[0])
	}
	if b.Direction != Noise {
		t.Error("the matrix does not say its direction")
	}
}
