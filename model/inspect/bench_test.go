package inspect

import (
	"sync"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

var (
	smallOnce sync.Once
	small     *patch.Session
)

// michelleShaped is the assignment's two runs on a random
// GPT-2-small-shaped model: 11 tokens differing at position 1.
func michelleShaped(b *testing.B) *patch.Session {
	smallOnce.Do(func() {
		clean := []int{48736, 5437, 373, 257, 1353, 12, 1662, 354, 3710, 13, 16738}
		corrupted := append([]int(nil), clean...)
		corrupted[1] = 4176
		var err error
		if small, err = patch.NewSession(gpt2.Random(gpt2.Small, 1), clean, corrupted, 5437, 4176); err != nil {
			b.Fatal(err)
		}
	})
	start := cpuSeconds()
	b.Cleanup(func() {
		if start > 0 {
			b.ReportMetric((cpuSeconds()-start)*1e3/float64(b.N), "cpu-ms/op")
		}
	})
	b.ResetTimer()
	return small
}

// BenchmarkInspect is what the views need at once after the two runs:
// attention, lens metric and attribution of both runs (the goal:
// under 50 ms natively).
func BenchmarkInspect(b *testing.B) {
	s := michelleShaped(b)
	for range b.N {
		readouts.reset()
		Inspect(s.Model, s.Clean, targets(s))
		Inspect(s.Model, s.Corrupted, targets(s))
	}
}

func BenchmarkAttention(b *testing.B) {
	s := michelleShaped(b)
	for range b.N {
		Attention(s.Model, s.Clean)
	}
}

func BenchmarkLens(b *testing.B) {
	s := michelleShaped(b)
	for range b.N {
		Lens(s.Model, s.Clean, targets(s))
	}
}

// BenchmarkAttribute is one run's attribution with nothing cached (the
// second run of an analysis reuses the heads' readouts).
func BenchmarkAttribute(b *testing.B) {
	s := michelleShaped(b)
	for range b.N {
		readouts.reset()
		Attribute(s.Model, s.Clean, targets(s))
	}
}

// BenchmarkLensTop1Row is one row of top-1 tokens (11 cells).
func BenchmarkLensTop1Row(b *testing.B) {
	s := michelleShaped(b)
	for range b.N {
		LensTop1(s.Model, s.Clean, s.Model.Layers, 0, s.T())
	}
}

// BenchmarkLensTop1All is every top-1 token of both runs (2 × 13 × 11 cells).
func BenchmarkLensTop1All(b *testing.B) {
	s := michelleShaped(b)
	for range b.N {
		LensTop1All(s.Model, s.Clean)
		LensTop1All(s.Model, s.Corrupted)
	}
}
