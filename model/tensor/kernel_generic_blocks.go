package tensor

// The portable block kernels (see kernel_generic.go): every output is the
// sequential sum s += float32(x[k]·w[k]) over k = 0, 1, …; the loops are
// unrolled along k and interleave the outputs, which leaves each output's
// own order unchanged.

// dot1x4Go returns the outputs of input row x0 by weight rows w0..w3.
func dot1x4Go(x0, w0, w1, w2, w3 []float32) (a00, a01, a02, a03 float32) {
	n := len(x0)
	w0, w1, w2, w3 = w0[:n], w1[:n], w2[:n], w3[:n]
	k := 0
	for ; k+8 <= n; k += 8 {
		p0 := x0[k : k+8 : k+8]
		u0 := w0[k : k+8 : k+8]
		u1 := w1[k : k+8 : k+8]
		u2 := w2[k : k+8 : k+8]
		u3 := w3[k : k+8 : k+8]
		a00 += float32(p0[0] * u0[0])
		a01 += float32(p0[0] * u1[0])
		a02 += float32(p0[0] * u2[0])
		a03 += float32(p0[0] * u3[0])
		a00 += float32(p0[1] * u0[1])
		a01 += float32(p0[1] * u1[1])
		a02 += float32(p0[1] * u2[1])
		a03 += float32(p0[1] * u3[1])
		a00 += float32(p0[2] * u0[2])
		a01 += float32(p0[2] * u1[2])
		a02 += float32(p0[2] * u2[2])
		a03 += float32(p0[2] * u3[2])
		a00 += float32(p0[3] * u0[3])
		a01 += float32(p0[3] * u1[3])
		a02 += float32(p0[3] * u2[3])
		a03 += float32(p0[3] * u3[3])
		a00 += float32(p0[4] * u0[4])
		a01 += float32(p0[4] * u1[4])
		a02 += float32(p0[4] * u2[4])
		a03 += float32(p0[4] * u3[4])
		a00 += float32(p0[5] * u0[5])
		a01 += float32(p0[5] * u1[5])
		a02 += float32(p0[5] * u2[5])
		a03 += float32(p0[5] * u3[5])
		a00 += float32(p0[6] * u0[6])
		a01 += float32(p0[6] * u1[6])
		a02 += float32(p0[6] * u2[6])
		a03 += float32(p0[6] * u3[6])
		a00 += float32(p0[7] * u0[7])
		a01 += float32(p0[7] * u1[7])
		a02 += float32(p0[7] * u2[7])
		a03 += float32(p0[7] * u3[7])
	}
	for ; k < n; k++ {
		a00 += float32(x0[k] * w0[k])
		a01 += float32(x0[k] * w1[k])
		a02 += float32(x0[k] * w2[k])
		a03 += float32(x0[k] * w3[k])
	}
	return
}

// dot2x4Go writes the outputs of input rows x0, x1 by weight rows w0..w3
// to y[4i+j].
func dot2x4Go(y *[12]float32, x0, x1, w0, w1, w2, w3 []float32) {
	n := len(x0)
	x1, w0, w1, w2, w3 = x1[:n], w0[:n], w1[:n], w2[:n], w3[:n]
	var a00, a01, a02, a03, a10, a11, a12, a13 float32
	k := 0
	for ; k+4 <= n; k += 4 {
		p0 := x0[k : k+4 : k+4]
		p1 := x1[k : k+4 : k+4]
		u0 := w0[k : k+4 : k+4]
		u1 := w1[k : k+4 : k+4]
		u2 := w2[k : k+4 : k+4]
		u3 := w3[k : k+4 : k+4]
		a00 += float32(p0[0] * u0[0])
		a01 += float32(p0[0] * u1[0])
		a02 += float32(p0[0] * u2[0])
		a03 += float32(p0[0] * u3[0])
		a10 += float32(p1[0] * u0[0])
		a11 += float32(p1[0] * u1[0])
		a12 += float32(p1[0] * u2[0])
		a13 += float32(p1[0] * u3[0])
		a00 += float32(p0[1] * u0[1])
		a01 += float32(p0[1] * u1[1])
		a02 += float32(p0[1] * u2[1])
		a03 += float32(p0[1] * u3[1])
		a10 += float32(p1[1] * u0[1])
		a11 += float32(p1[1] * u1[1])
		a12 += float32(p1[1] * u2[1])
		a13 += float32(p1[1] * u3[1])
		a00 += float32(p0[2] * u0[2])
		a01 += float32(p0[2] * u1[2])
		a02 += float32(p0[2] * u2[2])
		a03 += float32(p0[2] * u3[2])
		a10 += float32(p1[2] * u0[2])
		a11 += float32(p1[2] * u1[2])
		a12 += float32(p1[2] * u2[2])
		a13 += float32(p1[2] * u3[2])
		a00 += float32(p0[3] * u0[3])
		a01 += float32(p0[3] * u1[3])
		a02 += float32(p0[3] * u2[3])
		a03 += float32(p0[3] * u3[3])
		a10 += float32(p1[3] * u0[3])
		a11 += float32(p1[3] * u1[3])
		a12 += float32(p1[3] * u2[3])
		a13 += float32(p1[3] * u3[3])
	}
	for ; k < n; k++ {
		a00 += float32(x0[k] * w0[k])
		a01 += float32(x0[k] * w1[k])
		a02 += float32(x0[k] * w2[k])
		a03 += float32(x0[k] * w3[k])
		a10 += float32(x1[k] * w0[k])
		a11 += float32(x1[k] * w1[k])
		a12 += float32(x1[k] * w2[k])
		a13 += float32(x1[k] * w3[k])
	}
	*y = [12]float32{a00, a01, a02, a03, a10, a11, a12, a13}
}

// dot3x4Go writes the outputs of input rows x0..x2 by weight rows w0..w3
// to y[4i+j].
func dot3x4Go(y *[12]float32, x0, x1, x2, w0, w1, w2, w3 []float32) {
	n := len(x0)
	x1, x2, w0, w1, w2, w3 = x1[:n], x2[:n], w0[:n], w1[:n], w2[:n], w3[:n]
	var a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23 float32
	k := 0
	for ; k+2 <= n; k += 2 {
		p0 := x0[k : k+2 : k+2]
		p1 := x1[k : k+2 : k+2]
		p2 := x2[k : k+2 : k+2]
		u0 := w0[k : k+2 : k+2]
		u1 := w1[k : k+2 : k+2]
		u2 := w2[k : k+2 : k+2]
		u3 := w3[k : k+2 : k+2]
		a00 += float32(p0[0] * u0[0])
		a01 += float32(p0[0] * u1[0])
		a02 += float32(p0[0] * u2[0])
		a03 += float32(p0[0] * u3[0])
		a10 += float32(p1[0] * u0[0])
		a11 += float32(p1[0] * u1[0])
		a12 += float32(p1[0] * u2[0])
		a13 += float32(p1[0] * u3[0])
		a20 += float32(p2[0] * u0[0])
		a21 += float32(p2[0] * u1[0])
		a22 += float32(p2[0] * u2[0])
		a23 += float32(p2[0] * u3[0])
		a00 += float32(p0[1] * u0[1])
		a01 += float32(p0[1] * u1[1])
		a02 += float32(p0[1] * u2[1])
		a03 += float32(p0[1] * u3[1])
		a10 += float32(p1[1] * u0[1])
		a11 += float32(p1[1] * u1[1])
		a12 += float32(p1[1] * u2[1])
		a13 += float32(p1[1] * u3[1])
		a20 += float32(p2[1] * u0[1])
		a21 += float32(p2[1] * u1[1])
		a22 += float32(p2[1] * u2[1])
		a23 += float32(p2[1] * u3[1])
	}
	for ; k < n; k++ {
		a00 += float32(x0[k] * w0[k])
		a01 += float32(x0[k] * w1[k])
		a02 += float32(x0[k] * w2[k])
		a03 += float32(x0[k] * w3[k])
		a10 += float32(x1[k] * w0[k])
		a11 += float32(x1[k] * w1[k])
		a12 += float32(x1[k] * w2[k])
		a13 += float32(x1[k] * w3[k])
		a20 += float32(x2[k] * w0[k])
		a21 += float32(x2[k] * w1[k])
		a22 += float32(x2[k] * w2[k])
		a23 += float32(x2[k] * w3[k])
	}
	*y = [12]float32{a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23}
}
