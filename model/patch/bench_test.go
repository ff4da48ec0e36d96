package patch

import (
	"context"
	"sync"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
)

var (
	smallOnce sync.Once
	small     *gpt2.Model
)

// michelleShaped is the assignment's sweep on a random GPT-2-small-shaped
// model: 11 tokens differing at position 1.
func michelleShaped(b testing.TB) *Session {
	smallOnce.Do(func() { small = gpt2.Random(gpt2.Small, 1) })
	clean := []int{48736, 5437, 373, 257, 1353, 12, 1662, 354, 3710, 13, 16738}
	corrupted := append([]int(nil), clean...)
	corrupted[1] = 4176
	s, err := NewSession(small, clean, corrupted, 5437, 4176)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkForward(b *testing.B) {
	s := michelleShaped(b)
	b.ResetTimer()
	for range b.N {
		if _, _, err := s.Model.Forward(s.CleanIDs, nil, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSweepResidPost(b *testing.B) {
	s := michelleShaped(b)
	b.ResetTimer()
	for range b.N {
		if _, err := s.Sweep(context.Background(), Site{Kind: gpt2.ResidPost}, Options{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
