package atp

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/internal/cputime"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/webfmt"
)

var (
	smallOnce      sync.Once
	small, smallQ9 *gpt2.Model
)

// smallSession is a session on a random GPT-2-small-shaped model: the
// assignment's 11 tokens differing at position 1, or t random tokens
// differing at position 1.
func smallSession(b testing.TB, t int) *patch.Session { return smallSessionOf(b, t, false) }

// smallSessionOf is smallSession, on the model quantised as the web format
// stores it (webfmt.DefaultBits) if quantised.
func smallSessionOf(b testing.TB, t int, quantised bool) *patch.Session {
	smallOnce.Do(func() {
		small = gpt2.Random(gpt2.Small, 1)
		smallQ9 = webfmt.Quantize(small, webfmt.DefaultBits)
	})
	clean := []int{48736, 5437, 373, 257, 1353, 12, 1662, 354, 3710, 13, 16738}
	if t != len(clean) {
		r := rand.New(rand.NewPCG(uint64(t), 7))
		clean = make([]int, t)
		for i := range clean {
			clean[i] = r.IntN(small.Vocab)
		}
	}
	corrupted := append([]int(nil), clean...)
	corrupted[1] = 4176
	m := small
	if quantised {
		m = smallQ9
	}
	s, err := patch.NewSession(m, clean, corrupted, 5437, 4176)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchTokens runs f on the float32 model and the quantised one, at 11 and
// 256 tokens.
func benchTokens(b *testing.B, f func(b *testing.B, s *patch.Session)) {
	for _, q := range []bool{false, true} {
		for _, t := range []int{11, 256} {
			name := fmt.Sprintf("f32/T=%d", t)
			if q {
				name = fmt.Sprintf("q%d/T=%d", webfmt.DefaultBits, t)
			}
			b.Run(name, func(b *testing.B) {
				s := smallSessionOf(b, t, q)
				b.ReportAllocs()
				b.ResetTimer()
				f(b, s)
			})
		}
	}
}

// BenchmarkForward is one plain forward pass (the unit of the cost goal);
// BenchmarkForwardTrace one that records every activation, as a session's
// two runs do.
func BenchmarkForward(b *testing.B) {
	benchTokens(b, func(b *testing.B, s *patch.Session) {
		for range b.N {
			s.Model.Forward(s.CorruptedIDs, nil, false)
		}
	})
}

func BenchmarkForwardTrace(b *testing.B) {
	benchTokens(b, func(b *testing.B, s *patch.Session) {
		for range b.N {
			s.Model.Forward(s.CorruptedIDs, nil, true)
		}
	})
}

// BenchmarkBackward is the backward pass alone; its B/op is the memory it
// allocates (the gradients and neuron values it returns, and its scratch).
func BenchmarkBackward(b *testing.B) {
	benchTokens(b, func(b *testing.B, s *patch.Session) {
		for range b.N {
			if _, err := s.Model.Backward(s.Corrupted, []int{s.CorruptedTarget, s.CleanTarget}, []float32{1, -1}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEstimate is every site's estimate and the top 100 neurons from a
// session's two traces: the backward pass, the clean run's neurons and the
// products.
func BenchmarkEstimate(b *testing.B) {
	benchTokens(b, func(b *testing.B, s *patch.Session) {
		for range b.N {
			if _, err := Estimate(s, 100); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCost times, turn about, a plain forward pass, the backward pass
// and the whole estimate (Estimate, top 100 neurons). It reports the
// fastest wall time of each over b.N rounds and the processor time each
// used on average: on a machine shared with other work the fastest round
// is the least disturbed, and processor time (with -cpu 1, one thread) is
// the work itself, which other processes do not inflate.
func BenchmarkCost(b *testing.B) {
	benchTokens(b, func(b *testing.B, s *patch.Session) {
		best := [3]time.Duration{time.Hour, time.Hour, time.Hour}
		var cpu [3]time.Duration
		run := []func(){
			func() { s.Model.Forward(s.CorruptedIDs, nil, false) },
			func() { s.Model.Backward(s.Corrupted, []int{s.CorruptedTarget, s.CleanTarget}, []float32{1, -1}) },
			func() { Estimate(s, 100) },
		}
		for range b.N {
			for i, f := range run {
				c0, t0 := cputime.Used(), time.Now()
				f()
				best[i] = min(best[i], time.Since(t0))
				cpu[i] += cputime.Used() - c0
			}
		}
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		b.ReportMetric(ms(best[0]), "forward-ms")
		b.ReportMetric(ms(best[1]), "backward-ms")
		b.ReportMetric(ms(best[2]), "estimate-ms")
		b.ReportMetric(float64(best[2])/float64(best[0]), "estimate/forward")
		if cpu[0] > 0 {
			b.ReportMetric(ms(cpu[0])/float64(b.N), "forward-cpu-ms")
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "backward/forward-cpu")
			b.ReportMetric(float64(cpu[2])/float64(cpu[0]), "estimate/forward-cpu")
		}
	})
}
