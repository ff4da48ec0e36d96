package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/patchlab/patchlab/model/internal/cputime"
)

// GPT-2 small shapes (Rows×Cols).
var benchShapes = []struct {
	name string
	R, C int
	ns   []int
}{
	{"qkv", 2304, 768, []int{1, 11, 55, 300}},
	{"proj", 768, 768, []int{1, 11, 55, 300}},
	{"fc", 3072, 768, []int{1, 11, 55, 300}},
	{"fcproj", 768, 3072, []int{1, 11, 55, 300}},
	{"unembed", 50257, 768, []int{1, 4}},
}

// BenchmarkMulT reports GFLOP/s for every GPT-2 small shape, with p = 1 and
// p = 2 threads (GOMAXPROCS, set here because -cpu does not reach
// sub-benchmarks; p = 2 only where there are two CPUs).
func BenchmarkMulT(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		m := randF32(rng, s.R, s.C)
		for _, n := range s.ns {
			x := randVec(rng, n*s.C)
			y := make([]float32, n*s.R)
			for _, p := range benchThreads() {
				b.Run(fmt.Sprintf("f32/%s/n=%d/p=%d", s.name, n, p), func(b *testing.B) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(p))
					b.SetBytes(m.Bytes())
					t0 := cputime.Used()
					for b.Loop() {
						m.MulT(y, x, n)
					}
					reportGFLOPs(b, 2*n*s.R*s.C)
					reportCPUGFLOPs(b, 2*n*s.R*s.C, cputime.Used()-t0)
				})
			}
		}
	}
}

func BenchmarkMulTRows(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	f := randF32(rng, 50257, 768)
	rows := make([]int, 20)
	for j := range rows {
		rows[j] = rng.IntN(f.R)
	}
	x := randVec(rng, 11*f.C)
	y := make([]float32, 11*len(rows))
	b.Run(fmt.Sprintf("%T/rows=20/n=11", f), func(b *testing.B) {
		for b.Loop() {
			f.MulTRows(y, x, 11, rows)
		}
		reportGFLOPs(b, 2*11*len(rows)*f.C)
	})
}

func BenchmarkDot64(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	x, w := randVec(rng, 64), randVec(rng, 64)
	var s float32
	for b.Loop() {
		s += Dot(x, w)
	}
	reportGFLOPs(b, 2*64)
}

func BenchmarkAxpy64(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	x, y := randVec(rng, 64), randVec(rng, 64)
	for b.Loop() {
		Axpy(1e-3, x, y)
	}
	reportGFLOPs(b, 2*64)
}

// reportCPUGFLOPs reports GFLOP/s per second of CPU time where the
// platform measures it (js/wasm under Node).
func reportCPUGFLOPs(b *testing.B, flopsPerOp int, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(flopsPerOp)*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

func benchThreads() []int {
	if runtime.NumCPU() > 1 {
		return []int{1, 2}
	}
	return []int{1}
}

func reportGFLOPs(b *testing.B, flopsPerOp int) {
	b.ReportMetric(float64(flopsPerOp)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkMulN times the backward product y = x·M on GPT-2 small's QN
// matrices (9-bit codes) with 11 rows, against the row-by-row Axpy it
// replaces (one thread, each weight row dequantised once).
func BenchmarkMulN(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 11
	for _, s := range benchShapes[:4] {
		q := QuantizeQN(randF32(rng, s.R, s.C), 9)
		x := randVec(rng, n*s.R)
		y := make([]float32, n*s.C)
		b.Run(fmt.Sprintf("%s/MulN", s.name), func(b *testing.B) {
			t0 := cputime.Used()
			for b.Loop() {
				MulN(y, x, n, q)
			}
			reportGFLOPs(b, 2*n*s.R*s.C)
			reportCPUGFLOPs(b, 2*n*s.R*s.C, cputime.Used()-t0)
		})
		b.Run(fmt.Sprintf("%s/rows+axpy", s.name), func(b *testing.B) {
			row := make([]float32, s.C)
			t0 := cputime.Used()
			for b.Loop() {
				clear(y)
				for o := 0; o < s.R; o++ {
					q.Row(row, o)
					for i := 0; i < n; i++ {
						Axpy(x[i*s.R+o], row, y[i*s.C:(i+1)*s.C])
					}
				}
			}
			reportGFLOPs(b, 2*n*s.R*s.C)
			reportCPUGFLOPs(b, 2*n*s.R*s.C, cputime.Used()-t0)
		})
	}
}
