package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestMulN: y = x·M against a naive float64 product (within float32
// rounding of Σ|x·w|) and bit for bit against the naive float32 order the
// contract states (sequential over the rows of M, each product rounded);
// the same bits for every n, row of the batch and thread count.
func TestMulN(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, shape := range [][2]int{{7, 17}, {33, 100}, {5, 64}, {13, 192}, {259, 128}, {37, 3072}} {
			R, C := shape[0], shape[1]
			ms := []Matrix{randF32(rng, R, C)}
			if C%QNBlock == 0 {
				ms = append(ms, QuantizeQN(ms[0].(*F32), 9), QuantizeQN(ms[0].(*F32), 8), QuantizeQN(ms[0].(*F32), 13))
			}
			for _, m := range ms {
				t.Run(fmt.Sprintf("%T/%dx%d", m, R, C), func(t *testing.T) {
					checkMulN(t, m, rng)
				})
			}
		}
	})
}

func checkMulN(t *testing.T, m Matrix, rng *rand.Rand) {
	R, C := m.Rows(), m.Cols()
	w := make([]float32, R*C)
	for o := 0; o < R; o++ {
		m.Row(w[o*C:], o)
	}
	const n = 11
	x := randVec(rng, n*R)
	got := make([]float32, n*C)
	MulN(got, x, n, m)
	for i := 0; i < n; i++ {
		for k := 0; k < C; k++ {
			var s32 float32
			var s64, abs float64
			for o := 0; o < R; o++ {
				s32 += float32(x[i*R+o] * w[o*C+k])
				p := float64(x[i*R+o]) * float64(w[o*C+k])
				s64 += p
				abs += math.Abs(p)
			}
			g := got[i*C+k]
			if math.Float32bits(g) != math.Float32bits(s32) {
				t.Fatalf("y[%d][%d] = %g, the naive float32 order gives %g", i, k, g, s32)
			}
			if d := math.Abs(float64(g) - s64); d > 1e-6*float64(R)*abs+1e-30 {
				t.Fatalf("y[%d][%d] = %g, float64 %g (Σ|x·w| = %g)", i, k, g, s64, abs)
			}
		}
	}
	// One row alone, sub-batches, thread counts.
	one := make([]float32, C)
	for _, i := range []int{0, n / 2, n - 1} {
		MulN(one, x[i*R:(i+1)*R], 1, m)
		if j := sameBits(one, got[i*C:(i+1)*C]); j >= 0 {
			t.Fatalf("row %d alone: y[%d] differs", i, j)
		}
	}
	for _, p := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(p)
		y := make([]float32, n*C)
		MulN(y, x, n, m)
		runtime.GOMAXPROCS(old)
		if j := sameBits(y, got); j >= 0 {
			t.Fatalf("GOMAXPROCS=%d: y[%d] differs", p, j)
		}
	}
}
