package tensor

import "runtime"

// The portable kernels, used on every platform without assembly (notably
// js/wasm, where the Go compiler emits no SIMD) and on amd64 CPUs without
// AVX2+FMA.
//
// Summation order (the contract, in portable form): one output is the plain
// sequential sum s = s + float32(x[k]·w[k]) for k = 0, 1, …, Cols-1 — the
// naive order, each product rounded to float32 before it is added. The
// float32() conversions forbid the compiler from fusing the multiply and the
// add (which it may do on some architectures), so every kernel below gives
// every output the same bits.
//
// The kernels (kernel_generic_blocks.go) compute a block of input rows × 4
// weight rows in one pass, each loaded value used several times and the
// accumulators in registers, and are unrolled along k (which does not change
// the order): on js/wasm every loop iteration costs a few nanoseconds of
// dispatch, so a plain loop runs at ~3 GFLOP/s and these at ~6.5 (one input
// row) to ~9 (11 rows or more) under Node 20. Measured best: 3×4 on wasm
// (12 accumulators; 2×4 and 1×4 for the last rows), 2×4 on amd64, whose 15
// usable XMM registers would spill with 3×4 (~13 GFLOP/s there). The wasm
// builds run them only for rows whose length is not a multiple of 4: the
// others go through the hand-written kernels (kernel_rows_wasm.go).

// goBlockRows is the number of input rows the portable kernels take at once
// (3, 2 or 1).
var goBlockRows = map[bool]int{true: 2, false: 3}[runtime.GOARCH == "amd64"]

// dotGo is one output in the portable order.
func dotGo(x, w []float32) float32 {
	w = w[:len(x)]
	var s float32
	k := 0
	for ; k+8 <= len(x); k += 8 {
		p := x[k : k+8 : k+8]
		u := w[k : k+8 : k+8]
		s += float32(p[0] * u[0])
		s += float32(p[1] * u[1])
		s += float32(p[2] * u[2])
		s += float32(p[3] * u[3])
		s += float32(p[4] * u[4])
		s += float32(p[5] * u[5])
		s += float32(p[6] * u[6])
		s += float32(p[7] * u[7])
	}
	for ; k < len(x); k++ {
		s += float32(x[k] * w[k])
	}
	return s
}

// mul4Go writes y[i*ys+j .. j+3] for i < n: the products of the input rows
// x[i] (C wide) with weight rows w[0..3], goBlockRows input rows at a time.
func mul4Go(y, x []float32, n, C, ys, j int, w *[4][]float32) {
	var out [12]float32
	for i := 0; i < n; {
		r := min(goBlockRows, n-i)
		switch r {
		case 3:
			dot3x4Go(&out, x[i*C:(i+1)*C], x[(i+1)*C:(i+2)*C], x[(i+2)*C:(i+3)*C], w[0], w[1], w[2], w[3])
		case 2:
			dot2x4Go(&out, x[i*C:(i+1)*C], x[(i+1)*C:(i+2)*C], w[0], w[1], w[2], w[3])
		default:
			r = 1
			out[0], out[1], out[2], out[3] = dot1x4Go(x[i*C:(i+1)*C], w[0], w[1], w[2], w[3])
		}
		for k := 0; k < r; k++ {
			copy(y[(i+k)*ys+j:(i+k)*ys+j+4], out[4*k:4*k+4])
		}
		i += r
	}
}

// mulF32Go computes the outputs j ∈ [lo, hi) of every input row for weight
// rows rows[j] (or j when rows is nil); y has row stride ys.
func mulF32Go(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	C := m.C
	row := func(j int) []float32 {
		if rows != nil {
			j = rows[j]
		}
		return m.Data[j*C : (j+1)*C]
	}
	var w [4][]float32
	j := lo
	for ; j+4 <= hi; j += 4 {
		for r := range w {
			w[r] = row(j + r)
		}
		mul4Go(y, x, n, C, ys, j, &w)
	}
	for ; j < hi; j++ {
		wj := row(j)
		for i := 0; i < n; i++ {
			y[i*ys+j] = dotGo(x[i*C:(i+1)*C], wj)
		}
	}
}
