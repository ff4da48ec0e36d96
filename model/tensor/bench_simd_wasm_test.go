//go:build js && wasm && goexperiment.simd

package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSIMDvsGo compares the SIMD kernels with the portable ones in one
// process, on GPT-2 small's shapes with 11 input rows (one row of a sweep).
func BenchmarkSIMDvsGo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 11
	for _, s := range benchShapes[:4] {
		m := randF32(rng, s.R, s.C)
		q := QuantizeQN(m, 12)
		x := randVec(rng, n*s.C)
		y := make([]float32, n*s.R)
		for _, mat := range []Matrix{m, q} {
			for _, simd := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s/%T/simd=%v", s.name, mat, simd), func(b *testing.B) {
					defer func(o bool) { useSIMD = o }(useSIMD)
					useSIMD = simd
					t0 := cpuTime()
					for b.Loop() {
						mat.MulT(y, x, n)
					}
					reportGFLOPs(b, 2*n*s.R*s.C)
					reportCPUGFLOPs(b, 2*n*s.R*s.C, cpuTime()-t0)
				})
			}
		}
	}
}
