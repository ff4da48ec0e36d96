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
// usable XMM registers would spill with 3×4 (~13 GFLOP/s there).

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

// mulQ8Go is mulF32Go for a Q8 matrix, equal to mulF32Go of the
// dequantised matrix. With three input rows or more (and goBlockRows = 3) it
// dequantises four weight rows at a time into a scratch buffer, exactly as
// Row does, and runs the F32 kernels on it; otherwise it runs dot1x4Q8, which
// dequantises on the fly (faster when each weight is used once or twice).
func mulQ8Go(m *Q8, y, x []float32, n int, rows []int, lo, hi, ys int) {
	C, nb := m.C, m.C/Q8Block
	qrow := func(j int) ([]int8, []float32) {
		if rows != nil {
			j = rows[j]
		}
		return m.Q[j*C : (j+1)*C], m.Scales[j*nb : (j+1)*nb]
	}
	var w [4][]float32
	var buf []float32
	if goBlockRows > 1 && n >= 3 {
		buf = make([]float32, 4*C)
		for r := range w {
			w[r] = buf[r*C : (r+1)*C]
		}
	}
	j := lo
	for ; j+4 <= hi; j += 4 {
		var q [4][]int8
		var s [4][]float32
		for r := range q {
			q[r], s[r] = qrow(j + r)
		}
		if buf != nil {
			for r := range w {
				dequantRow(w[r], q[r], s[r])
			}
			mul4Go(y, x, n, C, ys, j, &w)
			continue
		}
		for i := 0; i < n; i++ {
			yi := y[i*ys+j : i*ys+j+4]
			yi[0], yi[1], yi[2], yi[3] = dot1x4Q8(x[i*C:(i+1)*C], &q, &s)
		}
	}
	if j < hi {
		row := make([]float32, C)
		for ; j < hi; j++ {
			q, s := qrow(j)
			dequantRow(row, q, s)
			for i := 0; i < n; i++ {
				y[i*ys+j] = dotGo(x[i*C:(i+1)*C], row)
			}
		}
	}
}

// dot1x4Q8 returns the outputs of input row x by the Q8 weight rows q[0..3]
// with scales s[0..3], each weight dequantised on the fly exactly as
// dequantRow does: w = scale·float32(q), rounded.
func dot1x4Q8(x []float32, q *[4][]int8, s *[4][]float32) (a0, a1, a2, a3 float32) {
	n := len(x) &^ (Q8Block - 1)
	q0, q1, q2, q3 := q[0][:n], q[1][:n], q[2][:n], q[3][:n]
	nb := n / Q8Block
	s0, s1, s2, s3 := s[0][:nb], s[1][:nb], s[2][:nb], s[3][:nb]
	for k := 0; k < n; k += 8 {
		b := k / Q8Block
		t0, t1, t2, t3 := s0[b], s1[b], s2[b], s3[b]
		p := x[k : k+8 : k+8]
		v0, v1, v2, v3 := q0[k:k+8:k+8], q1[k:k+8:k+8], q2[k:k+8:k+8], q3[k:k+8:k+8]
		a0 += float32(p[0] * float32(t0*float32(v0[0])))
		a1 += float32(p[0] * float32(t1*float32(v1[0])))
		a2 += float32(p[0] * float32(t2*float32(v2[0])))
		a3 += float32(p[0] * float32(t3*float32(v3[0])))
		a0 += float32(p[1] * float32(t0*float32(v0[1])))
		a1 += float32(p[1] * float32(t1*float32(v1[1])))
		a2 += float32(p[1] * float32(t2*float32(v2[1])))
		a3 += float32(p[1] * float32(t3*float32(v3[1])))
		a0 += float32(p[2] * float32(t0*float32(v0[2])))
		a1 += float32(p[2] * float32(t1*float32(v1[2])))
		a2 += float32(p[2] * float32(t2*float32(v2[2])))
		a3 += float32(p[2] * float32(t3*float32(v3[2])))
		a0 += float32(p[3] * float32(t0*float32(v0[3])))
		a1 += float32(p[3] * float32(t1*float32(v1[3])))
		a2 += float32(p[3] * float32(t2*float32(v2[3])))
		a3 += float32(p[3] * float32(t3*float32(v3[3])))
		a0 += float32(p[4] * float32(t0*float32(v0[4])))
		a1 += float32(p[4] * float32(t1*float32(v1[4])))
		a2 += float32(p[4] * float32(t2*float32(v2[4])))
		a3 += float32(p[4] * float32(t3*float32(v3[4])))
		a0 += float32(p[5] * float32(t0*float32(v0[5])))
		a1 += float32(p[5] * float32(t1*float32(v1[5])))
		a2 += float32(p[5] * float32(t2*float32(v2[5])))
		a3 += float32(p[5] * float32(t3*float32(v3[5])))
		a0 += float32(p[6] * float32(t0*float32(v0[6])))
		a1 += float32(p[6] * float32(t1*float32(v1[6])))
		a2 += float32(p[6] * float32(t2*float32(v2[6])))
		a3 += float32(p[6] * float32(t3*float32(v3[6])))
		a0 += float32(p[7] * float32(t0*float32(v0[7])))
		a1 += float32(p[7] * float32(t1*float32(v1[7])))
		a2 += float32(p[7] * float32(t2*float32(v2[7])))
		a3 += float32(p[7] * float32(t3*float32(v3[7])))
	}
	return
}
