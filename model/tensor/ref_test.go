package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The naive kernels the package started with, kept as references.

func dotNaive(a, b []float32) float32 {
	var s float32
	for k := range a {
		s += a[k] * b[k]
	}
	return s
}

// mulTNaive computes y = x·Mᵀ one output at a time from the rows of m.
func mulTNaive(m Matrix, y, x []float32, n int) {
	R, C := m.Rows(), m.Cols()
	w := make([]float32, C)
	for o := 0; o < R; o++ {
		m.Row(w, o)
		for i := 0; i < n; i++ {
			y[i*R+o] = dotNaive(x[i*C:(i+1)*C], w)
		}
	}
}

// absProducts returns Σ_k |x[i][k]·M[o][k]| for every output, the scale of
// the rounding error of any summation order.
func absProducts(m Matrix, x []float32, n int) []float64 {
	R, C := m.Rows(), m.Cols()
	w := make([]float32, C)
	out := make([]float64, n*R)
	for o := 0; o < R; o++ {
		m.Row(w, o)
		for i := 0; i < n; i++ {
			var s float64
			for k, v := range x[i*C : (i+1)*C] {
				s += math.Abs(float64(v) * float64(w[k]))
			}
			out[i*R+o] = s
		}
	}
	return out
}

func randF32(rng *rand.Rand, rows, cols int) *F32 {
	return NewF32(rows, cols, randVec(rng, rows*cols))
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	return v
}

// checkClose compares got with the naive product: each output within
// tol·Σ|x·w| (a different summation order may only move rounding errors).
func checkClose(t *testing.T, m Matrix, got, x []float32, n int, tol float64) {
	t.Helper()
	want := make([]float32, n*m.Rows())
	mulTNaive(m, want, x, n)
	scale := absProducts(m, x, n)
	bad := 0
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol*scale[i]) {
			if bad++; bad <= 5 {
				t.Errorf("y[%d][%d] = %g, naive %g (Σ|x·w| = %g)", i/m.Rows(), i%m.Rows(), got[i], want[i], scale[i])
			}
		}
	}
}

// sameBits reports the first index where a and b differ bitwise, or -1.
func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}
