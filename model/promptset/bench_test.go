package promptset

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

var (
	smallOnce sync.Once
	small     *gpt2.Model
)

// BenchmarkIOISet sweeps IOI sets (resid_post and embed, the CLI's default
// sites) on a random GPT-2-small-shaped model: 1 pair (the single-pair
// sweep, analysis included), 20 and 100 pairs. It reports the time per
// pair and the peak live heap: the heap after a garbage collection forced
// at the end of every swept row (cheap: the weights hold no pointers),
// less the model's weights. Flat in the number of pairs means no pair's
// runs outlive it. Run it with -benchtime=1x:
//
//	go test ./model/promptset -run '^$' -bench IOISet -benchtime=1x
func BenchmarkIOISet(b *testing.B) {
	smallOnce.Do(func() { small = gpt2.Random(gpt2.Small, 1) })
	tok := bpe.New()
	for _, n := range []int{1, 20, 100} {
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			pairs := IOI(n, 1)
			var peak uint64
			var ms runtime.MemStats
			for range b.N {
				runtime.GC()
				set, err := New(small, tok, Options{Sites: []patch.Site{{Kind: gpt2.ResidPost}, {Kind: gpt2.Embed}}, Metric: patch.LogitDiff})
				if err != nil {
					b.Fatal(err)
				}
				set.OnRow = func(int) {
					runtime.GC()
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
				for i, p := range pairs {
					if res, err := set.Add(context.Background(), i, p); err != nil || res.Error != "" {
						b.Fatal(err, res.Error)
					}
				}
			}
			model := uint64(small.Bytes())
			b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N*n), "s/pair")
			b.ReportMetric(float64(peak-model)/(1<<20), "peak-heap-MB-beyond-weights")
			b.ReportMetric(float64(model)/(1<<20), "weights-MB")
		})
	}
}
