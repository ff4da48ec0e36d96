package tensor

// Dot returns Σ a[k]·b[k] over k < len(a); b must be at least as long. It
// sums in the order of the matrix kernels in use, so Dot(x, row o of an F32)
// equals output o of MulT for input x bit for bit.
func Dot(a, b []float32) float32 {
	return dot(a, b[:len(a)])
}

// Axpy adds alpha·x[k] to y[k] for k < len(x); y must be at least as long
// and must not partly overlap x. Each product is rounded to float32 before
// it is added (no fused multiply-add), so the result is the same on every
// platform and path.
func Axpy(alpha float32, x, y []float32) {
	axpy(alpha, x, y[:len(x)])
}

// axpyGo is unrolled by 8: on js/wasm each loop iteration costs a few
// nanoseconds of dispatch.
func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	k := 0
	for ; k+8 <= len(x); k += 8 {
		p := x[k : k+8 : k+8]
		q := y[k : k+8 : k+8]
		q[0] += float32(alpha * p[0])
		q[1] += float32(alpha * p[1])
		q[2] += float32(alpha * p[2])
		q[3] += float32(alpha * p[3])
		q[4] += float32(alpha * p[4])
		q[5] += float32(alpha * p[5])
		q[6] += float32(alpha * p[6])
		q[7] += float32(alpha * p[7])
	}
	for ; k < len(x); k++ {
		y[k] += float32(alpha * x[k])
	}
}
