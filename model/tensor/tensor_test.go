package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

var (
	testCols = []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 768, 1100, 2049, 3072}
	testRows = []int{1, 2, 3, 4, 5, 7, 13, 33}
	testN    = []int{1, 2, 3, 5, 6, 7, 17, 64}
)

func TestF32MatchesNaive(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, C := range testCols {
			for _, R := range testRows {
				if C >= 768 && R != 5 && R != 13 {
					continue
				}
				m := randF32(rng, R, C)
				for _, n := range testN {
					x := randVec(rng, n*C)
					y := make([]float32, n*R)
					m.MulT(y, x, n)
					t.Run(fmt.Sprintf("%dx%d/n=%d", R, C, n), func(t *testing.T) {
						checkClose(t, m, y, x, n, 1e-5)
					})
				}
			}
		}
	})
}

// The contract: an output depends only on its input row, its weight row and
// Cols — not on n, the other rows in the batch, MulTRows or the thread split.
func TestBatchIndependence(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, shape := range [][2]int{{7, 17}, {13, 100}, {33, 768}, {301, 768}, {21, 1100}, {45, 3072}} {
			R, C := shape[0], shape[1]
			ms := []Matrix{randF32(rng, R, C)}
			if C%QNBlock == 0 {
				ms = append(ms, QuantizeQN(ms[0].(*F32), 9), QuantizeQN(ms[0].(*F32), 13))
			}
			for _, m := range ms {
				t.Run(fmt.Sprintf("%T/%dx%d", m, R, C), func(t *testing.T) {
					checkIndependence(t, m, rng)
				})
			}
		}
	})
}

func checkIndependence(t *testing.T, m Matrix, rng *rand.Rand) {
	R, C := m.Rows(), m.Cols()
	const n = 23
	x := randVec(rng, n*C)
	full := make([]float32, n*R)
	m.MulT(full, x, n)

	// One row at a time.
	one := make([]float32, R)
	for i := 0; i < n; i++ {
		m.MulT(one, x[i*C:(i+1)*C], 1)
		if j := sameBits(one, full[i*R:(i+1)*R]); j >= 0 {
			t.Fatalf("row %d alone: y[%d] = %g, in batch of %d: %g", i, j, one[j], n, full[i*R+j])
		}
	}
	// Sub-batches of every size at odd offsets, in another order.
	for _, sub := range [][2]int{{1, 2}, {3, 5}, {4, 7}, {5, 17}, {0, 13}} {
		lo, k := sub[0], sub[1]
		xs := slices.Clone(x[lo*C : (lo+k)*C])
		ys := make([]float32, k*R)
		m.MulT(ys, xs, k)
		if j := sameBits(ys, full[lo*R:(lo+k)*R]); j >= 0 {
			t.Fatalf("rows %d..%d: y[%d] differs", lo, lo+k, j)
		}
	}
	// MulTRows: arbitrary rows, repeats, odd counts.
	for _, cnt := range []int{1, 3, 4, 9, R} {
		rows := make([]int, cnt)
		for j := range rows {
			rows[j] = rng.IntN(R)
		}
		for _, k := range []int{1, 5, n} {
			y := make([]float32, k*cnt)
			m.MulTRows(y, x, k, rows)
			for i := 0; i < k; i++ {
				for j, o := range rows {
					if g, w := y[i*cnt+j], full[i*R+o]; g != w {
						t.Fatalf("MulTRows(n=%d) y[%d][%d] (row %d) = %g, MulT %g", k, i, j, o, g, w)
					}
				}
			}
		}
	}
	// Thread split.
	for _, p := range []int{1, 2, 3, 8} {
		old := runtime.GOMAXPROCS(p)
		y := make([]float32, n*R)
		m.MulT(y, x, n)
		runtime.GOMAXPROCS(old)
		if j := sameBits(y, full); j >= 0 {
			t.Fatalf("GOMAXPROCS=%d: y[%d] = %g, want %g", p, j, y[j], full[j])
		}
	}
	// Dot agrees with the F32 kernels.
	if f, ok := m.(*F32); ok {
		for i := 0; i < n; i += 5 {
			for o := 0; o < R; o += 3 {
				if g := Dot(x[i*C:(i+1)*C], f.Data[o*C:(o+1)*C]); g != full[i*R+o] {
					t.Fatalf("Dot(x[%d], w[%d]) = %g, MulT %g", i, o, g, full[i*R+o])
				}
			}
		}
	}
}

func TestDot(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for n := 0; n < 100; n++ {
			a, b := randVec(rng, n), randVec(rng, n+3)
			m := NewF32(1, n, b[:n])
			checkClose(t, m, []float32{Dot(a, b)}, a, 1, 1e-5)
		}
	})
}

func TestAxpy(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for n := 0; n < 140; n++ {
			x, y := randVec(rng, n), randVec(rng, n+2)
			want := slices.Clone(y)
			alpha := float32(rng.NormFloat64())
			for k := range x {
				want[k] = y[k] + float32(alpha*x[k])
			}
			Axpy(alpha, x, y)
			if i := sameBits(y, want); i >= 0 {
				t.Fatalf("n=%d: y[%d] = %g, want %g", n, i, y[i], want[i])
			}
		}
	})
}

func TestEdgeCases(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		// No columns: every output is an empty sum.
		m := NewF32(3, 0, nil)
		y := []float32{1, 2, 3, 4, 5, 6}
		m.MulT(y, nil, 2)
		if slices.ContainsFunc(y, func(v float32) bool { return v != 0 }) {
			t.Errorf("Cols=0: y = %v", y)
		}
		// Nothing to do.
		f := randF32(rand.New(rand.NewPCG(1, 1)), 4, 8)
		f.MulT(nil, nil, 0)
		f.MulTRows(nil, make([]float32, 8), 1, nil)
		// Short operands and bad rows panic rather than overrun.
		for name, fn := range map[string]func(){
			"short x":   func() { f.MulT(make([]float32, 8), make([]float32, 15), 2) },
			"short y":   func() { f.MulT(make([]float32, 7), make([]float32, 16), 2) },
			"bad row":   func() { f.MulTRows(make([]float32, 1), make([]float32, 8), 1, []int{4}) },
			"neg row":   func() { f.MulTRows(make([]float32, 1), make([]float32, 8), 1, []int{-1}) },
			"short Dot": func() { Dot(make([]float32, 9), make([]float32, 8)) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic", name)
					}
				}()
				fn()
			}()
		}
	})
}
