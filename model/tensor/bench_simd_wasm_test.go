//go:build js && wasm && goexperiment.simd

package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/patchlab/patchlab/model/internal/cputime"
)

// BenchmarkSIMDvsGo compares the SIMD kernels with the portable ones in one
// process, on GPT-2 small's shapes with the page's code widths (9 bits, 8
// for the unembedding) and the sweep's row counts: 1 (a single position),
// 11 (one row of the 11-token sweep), 22 (two texts at once) and 55 (the
// batch of one heatmap row of that sweep).
func BenchmarkSIMDvsGo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	shapes := append(benchShapes[:4:4], struct {
		name string
		R, C int
		ns   []int
	}{"unembed", 50257, 768, []int{1, 2}})
	for _, s := range shapes {
		m := randF32(rng, s.R, s.C)
		q := QuantizeQN(m, map[bool]int{true: 8, false: 9}[s.name == "unembed"])
		for _, n := range []int{1, 11, 22, 55} {
			if s.name == "unembed" && n > 2 {
				continue
			}
			x := randVec(rng, n*s.C)
			y := make([]float32, n*s.R)
			for _, mat := range []Matrix{m, q} {
				for _, simd := range []bool{true, false} {
					b.Run(fmt.Sprintf("%s/n=%d/%T/simd=%v", s.name, n, mat, simd), func(b *testing.B) {
						defer func(o bool) { useSIMD = o }(useSIMD)
						useSIMD = simd
						t0 := cputime.Used()
						for b.Loop() {
							mat.MulT(y, x, n)
						}
						reportGFLOPs(b, 2*n*s.R*s.C)
						reportCPUGFLOPs(b, 2*n*s.R*s.C, cputime.Used()-t0)
					})
				}
			}
		}
	}
}

// BenchmarkDequant times QN.Row, SIMD and portable, per weight.
func BenchmarkDequant(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const R, C = 768, 768
	m := randF32(rng, R, C)
	dst := make([]float32, C)
	for _, bits := range []int{8, 9, 12} {
		q := QuantizeQN(m, bits)
		for _, simd := range []bool{true, false} {
			b.Run(fmt.Sprintf("bits=%d/simd=%v", bits, simd), func(b *testing.B) {
				defer func(o bool) { useSIMD = o }(useSIMD)
				useSIMD = simd
				t0 := cputime.Used()
				for b.Loop() {
					for r := range R {
						q.Row(dst, r)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*R*C), "ns/weight")
				b.ReportMetric(float64((cputime.Used()-t0).Nanoseconds())/float64(b.N*R*C), "cpu-ns/weight")
			})
		}
	}
}
