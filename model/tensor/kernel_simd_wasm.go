//go:build js && wasm && goexperiment.simd

package tensor

import (
	"math"
	"simd/archsimd"
	"unsafe"
)

// The WebAssembly SIMD kernels (GOEXPERIMENT=simd, Go ≥ 1.27): 128-bit
// vectors of 4 float32 lanes. Summation order, the contract in this build:
// one output keeps 4 partial sums, lane l summing the products of columns
// k ≡ l (mod 4) in order, each product rounded before it is added (wasm
// has no fused multiply-add); the last Cols%4 columns go in one more step
// with zero padding; then the lanes are added as (s0+s1)+(s2+s3). The order
// depends only on Cols, so every block shape, Dot and MulT agree bit for
// bit. useSIMD = false (for the tests) selects the portable kernels.

var useSIMD = true

func mulF32(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	if !useSIMD {
		mulF32Go(m, y, x, n, rows, lo, hi, ys)
		return
	}
	mulF32SIMD(m, y, x, n, rows, lo, hi, ys)
}

func dot(a, b []float32) float32 {
	if !useSIMD {
		return dotGo(a, b)
	}
	return dotSIMD(a, b)
}

// simdBlockRows is the number of input rows the SIMD kernels take at once
// (2 or 1): 2 input rows × 4 weight rows keep 8 accumulators and the
// step's 6 loads (V8 hoists them all) in x86's 16 vector registers; 3×4
// spills.
var simdBlockRows = 2

// mulF32SIMD computes the outputs j ∈ [lo, hi) of every input row for weight
// rows rows[j] (or j when rows is nil); y has row stride ys.
func mulF32SIMD(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	if m.C%4 != 0 {
		mulF32SIMDGo(m, y, x, n, rows, lo, hi, ys)
		return
	}
	mulRows(m, y, x, n, rows, lo, hi, ys, simdBlockRows == 2)
}

// mulF32SIMDGo is mulF32SIMD for rows whose length is not a multiple of 4,
// with the partial last vector zero-padded: Go's SIMD, slower in wasm.
func mulF32SIMDGo(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	C := m.C
	row := func(j int) []float32 {
		if rows != nil {
			j = rows[j]
		}
		return m.Data[j*C : (j+1)*C : (j+1)*C]
	}
	var out [8]float32
	for i := 0; i < n; {
		b := min(simdBlockRows, n-i)
		x0 := x[i*C : (i+1)*C : (i+1)*C]
		j := lo
		for ; j+4 <= hi; j += 4 {
			w0, w1, w2, w3 := row(j), row(j+1), row(j+2), row(j+3)
			switch b {
			case 2:
				dot2x4SIMD(&out, x0, x[(i+1)*C:(i+2)*C:(i+2)*C], w0, w1, w2, w3)
			default:
				dot1x4SIMD(&out, x0, w0, w1, w2, w3)
			}
			for r := 0; r < b; r++ {
				copy(y[(i+r)*ys+j:(i+r)*ys+j+4], out[4*r:4*r+4])
			}
		}
		for ; j < hi; j++ {
			w := row(j)
			for r := i; r < i+b; r++ {
				y[r*ys+j] = dotSIMD(x[r*C:(r+1)*C], w)
			}
		}
		i += b
	}
}

// The kernels' main loops read through unsafe pointers: bounds checks in
// the loop cost more than the arithmetic in wasm (measured 2.5× slower).
// Every slice is checked to hold n values before the loop.

// ld is the 4 float32 values at p + 4k bytes.
func ld(p unsafe.Pointer, k int) archsimd.Float32x4 {
	return archsimd.LoadFloat32x4Array((*[4]float32)(unsafe.Add(p, 4*k)))
}

// load4 is the 4 values from s[k], zero-padded past the end of s.
func load4(s []float32, k int) archsimd.Float32x4 {
	if k+4 <= len(s) {
		return archsimd.LoadFloat32x4Array((*[4]float32)(s[k : k+4]))
	}
	var p [4]float32
	copy(p[:], s[k:])
	return archsimd.LoadFloat32x4Array(&p)
}

// hsum adds the lanes of a as (a0+a1)+(a2+a3).
func hsum(a archsimd.Float32x4) float32 {
	return (a.GetElem(0) + a.GetElem(1)) + (a.GetElem(2) + a.GetElem(3))
}

func dotSIMD(x, w []float32) float32 {
	n := len(x)
	var a archsimd.Float32x4
	k := 0
	if n >= 4 {
		px, pw := ptr(x, n), ptr(w, n)
		for ; k+4 <= n; k += 4 {
			a = a.Add(ld(px, k).Mul(ld(pw, k)))
		}
	}
	if k < n {
		a = a.Add(load4(x, k).Mul(load4(w[:n], k)))
	}
	return hsum(a)
}

// dot1x4SIMD writes the outputs of input row x0 by weight rows w0..w3 to y[j].
func dot1x4SIMD(y *[8]float32, x0, w0, w1, w2, w3 []float32) {
	n := len(x0)
	var a0, a1, a2, a3 archsimd.Float32x4
	k := 0
	if n >= 4 {
		px, p0, p1, p2, p3 := ptr(x0, n), ptr(w0, n), ptr(w1, n), ptr(w2, n), ptr(w3, n)
		for ; k+4 <= n; k += 4 {
			p := ld(px, k)
			a0 = a0.Add(p.Mul(ld(p0, k)))
			a1 = a1.Add(p.Mul(ld(p1, k)))
			a2 = a2.Add(p.Mul(ld(p2, k)))
			a3 = a3.Add(p.Mul(ld(p3, k)))
		}
	}
	if k < n {
		p := load4(x0, k)
		a0 = a0.Add(p.Mul(load4(w0[:n], k)))
		a1 = a1.Add(p.Mul(load4(w1[:n], k)))
		a2 = a2.Add(p.Mul(load4(w2[:n], k)))
		a3 = a3.Add(p.Mul(load4(w3[:n], k)))
	}
	y[0], y[1], y[2], y[3] = hsum(a0), hsum(a1), hsum(a2), hsum(a3)
}

// dot2x4SIMD writes the outputs of input rows x0, x1 by weight rows w0..w3
// to y[4i+j]. The loop takes 8 columns a step (two per lane), which leaves
// each lane's order unchanged: loop iterations cost dispatch in wasm.
func dot2x4SIMD(y *[8]float32, x0, x1, w0, w1, w2, w3 []float32) {
	n := len(x0)
	var a00, a01, a02, a03, a10, a11, a12, a13 archsimd.Float32x4
	k := 0
	if n >= 8 {
		q0, q1 := ptr(x0, n), ptr(x1, n)
		p0, p1, p2, p3 := ptr(w0, n), ptr(w1, n), ptr(w2, n), ptr(w3, n)
		for ; k+8 <= n; k += 8 {
			u0, u1, u2, u3 := ld(p0, k), ld(p1, k), ld(p2, k), ld(p3, k)
			p := ld(q0, k)
			a00 = a00.Add(p.Mul(u0))
			a01 = a01.Add(p.Mul(u1))
			a02 = a02.Add(p.Mul(u2))
			a03 = a03.Add(p.Mul(u3))
			p = ld(q1, k)
			a10 = a10.Add(p.Mul(u0))
			a11 = a11.Add(p.Mul(u1))
			a12 = a12.Add(p.Mul(u2))
			a13 = a13.Add(p.Mul(u3))
			u0, u1, u2, u3 = ld(p0, k+4), ld(p1, k+4), ld(p2, k+4), ld(p3, k+4)
			p = ld(q0, k+4)
			a00 = a00.Add(p.Mul(u0))
			a01 = a01.Add(p.Mul(u1))
			a02 = a02.Add(p.Mul(u2))
			a03 = a03.Add(p.Mul(u3))
			p = ld(q1, k+4)
			a10 = a10.Add(p.Mul(u0))
			a11 = a11.Add(p.Mul(u1))
			a12 = a12.Add(p.Mul(u2))
			a13 = a13.Add(p.Mul(u3))
		}
	}
	x1, w0, w1, w2, w3 = x1[:n], w0[:n], w1[:n], w2[:n], w3[:n]
	for ; k < n; k += 4 {
		u0, u1, u2, u3 := load4(w0, k), load4(w1, k), load4(w2, k), load4(w3, k)
		p := load4(x0, k)
		a00 = a00.Add(p.Mul(u0))
		a01 = a01.Add(p.Mul(u1))
		a02 = a02.Add(p.Mul(u2))
		a03 = a03.Add(p.Mul(u3))
		p = load4(x1, k)
		a10 = a10.Add(p.Mul(u0))
		a11 = a11.Add(p.Mul(u1))
		a12 = a12.Add(p.Mul(u2))
		a13 = a13.Add(p.Mul(u3))
	}
	*y = [8]float32{hsum(a00), hsum(a01), hsum(a02), hsum(a03), hsum(a10), hsum(a11), hsum(a12), hsum(a13)}
}

func axpy(alpha float32, x, y []float32) {
	if !useSIMD {
		axpyGo(alpha, x, y)
		return
	}
	y = y[:len(x)]
	a := archsimd.BroadcastFloat32x4(alpha)
	k := 0
	for ; k+4 <= len(x); k += 4 {
		q := (*[4]float32)(y[k : k+4])
		archsimd.LoadFloat32x4Array(q).Add(a.Mul(archsimd.LoadFloat32x4Array((*[4]float32)(x[k : k+4])))).StoreArray(q)
	}
	for ; k < len(x); k++ {
		y[k] += float32(alpha * x[k])
	}
}

// axpy4 is axpy4Go's operations in the same order, so the same bits: the
// whole quads of y in hand-written WebAssembly (axpy4Quads, in
// kernel_simd_wasm.s), the rest in Go.
func axpy4(y []float32, w *[4][]float32, a0, a1, a2, a3 float32) {
	if !useSIMD {
		axpy4Go(y, w, a0, a1, a2, a3)
		return
	}
	n := len(y)
	k := n &^ 3
	if k > 0 {
		a := [4]float32{a0, a1, a2, a3}
		axpy4Quads(ptr(y, k), ptr(w[0], k), ptr(w[1], k), ptr(w[2], k), ptr(w[3], k), unsafe.Pointer(&a), k/4)
	}
	if k < n {
		axpy4Go(y[k:], &[4][]float32{w[0][k:n], w[1][k:n], w[2][k:n], w[3][k:n]}, a0, a1, a2, a3)
	}
}

//go:noescape
func axpy4Quads(y, w0, w1, w2, w3, a unsafe.Pointer, quads int)

func dequant(dst []float32, hi []int8, lo []uint8, stride int, steps []float32, k int) {
	if !useSIMD {
		dequantGo(dst, hi, lo, stride, steps, k)
		return
	}
	nb := len(dst) / QNBlock
	switch {
	case nb == 0:
	case k == 0:
		dequantBlocks8(ptr(dst, nb*QNBlock), unsafe.Pointer(&hi[:nb*QNBlock][0]), nil, ptr(steps, nb), nil, nil, nb)
	case k == 1:
		dequantBlocks9(ptr(dst, nb*QNBlock), unsafe.Pointer(&hi[:nb*QNBlock][0]), unsafe.Pointer(&lo[:nb*QNBlock/8][0]), ptr(steps, nb),
			unsafe.Pointer(&bitOf), unsafe.Pointer(&pick), nb)
	default:
		dequantSIMD(dst, hi, lo, stride, steps, k)
	}
}

// dequantBlocks8 and dequantBlocks9 (kernel_simd_wasm.s) are dequantSIMD's
// operations for k = 0 and 1 over blocks whole blocks, in hand-written
// WebAssembly: the page's weights have these widths.
//
//go:noescape
func dequantBlocks8(dst, hi, lo, steps, bit, pick unsafe.Pointer, blocks int)

//go:noescape
func dequantBlocks9(dst, hi, lo, steps, bit, pick unsafe.Pointer, blocks int)

// bitOf has bit i%8 in byte i; pick[g] picks byte 2g for lanes 0…7 and byte
// 2g+1 for lanes 8…15.
var (
	bitOf = [16]int8{1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128}
	pick  = [4][16]int8{
		{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
		{2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
		{4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
		{6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
	}
)

// dequantSIMD is dequantN (k ≥ 2; dequantBlocks8 and 9 do k = 0 and 1, the
// latter as 2·hi − (−1 where the bit is set), the same integer) one block of 64 codes at a time, 16 per step, with
// the same arithmetic, so the same bits: the code hi<<k | low as int16
// lanes (|code| < 2^15), widened to int32, converted exactly to float32,
// times the block's step / 2^k. A plane's 8 bytes of the block are
// broadcast and each lane picks its byte and tests its bit. len(dst) must
// be a multiple of QNBlock. The steps are written out (no loop over the 4
// groups of a block): loop iterations and bounds checks cost as much as
// the arithmetic in wasm.
func dequantSIMD(dst []float32, hi []int8, lo []uint8, stride int, steps []float32, k int) {
	nb := len(dst) / QNBlock
	if nb == 0 {
		return
	}
	_, _ = hi[nb*QNBlock-1], steps[nb-1]
	var lp unsafe.Pointer
	if k > 0 {
		_ = lo[(k-1)*stride+nb*QNBlock/8-1]
		lp = unsafe.Pointer(&lo[0])
	}
	dp, hp, sp := unsafe.Pointer(&dst[0]), unsafe.Pointer(&hi[0]), unsafe.Pointer(&steps[0])
	inv := 1 / float32(int32(1)<<k)
	bit := archsimd.LoadInt8x16Array(&bitOf)
	p0, p1 := archsimd.LoadInt8x16Array(&pick[0]), archsimd.LoadInt8x16Array(&pick[1])
	p2, p3 := archsimd.LoadInt8x16Array(&pick[2]), archsimd.LoadInt8x16Array(&pick[3])
	for b := 0; b < nb; b++ {
		s := archsimd.BroadcastFloat32x4(*(*float32)(unsafe.Add(sp, 4*b)) * inv)
		h := unsafe.Add(hp, QNBlock*b)
		d := unsafe.Add(dp, 4*QNBlock*b)
		h0 := archsimd.LoadInt8x16Array((*[16]int8)(h))
		h1 := archsimd.LoadInt8x16Array((*[16]int8)(unsafe.Add(h, 16)))
		h2 := archsimd.LoadInt8x16Array((*[16]int8)(unsafe.Add(h, 32)))
		h3 := archsimd.LoadInt8x16Array((*[16]int8)(unsafe.Add(h, 48)))
		var l0, l1, l2, l3 archsimd.Int8x16
		for j := 0; j < k; j++ {
			v := plane(lp, j*stride+8*b)
			m := archsimd.BroadcastInt8x16(int8(1 << j))
			l0 = l0.Or(v.LookupOrZero(p0).And(bit).Equal(bit).ToInt8x16().And(m))
			l1 = l1.Or(v.LookupOrZero(p1).And(bit).Equal(bit).ToInt8x16().And(m))
			l2 = l2.Or(v.LookupOrZero(p2).And(bit).Equal(bit).ToInt8x16().And(m))
			l3 = l3.Or(v.LookupOrZero(p3).And(bit).Equal(bit).ToInt8x16().And(m))
		}
		putN(d, h0, l0, k, s)
		putN(unsafe.Add(d, 64), h1, l1, k, s)
		putN(unsafe.Add(d, 128), h2, l2, k, s)
		putN(unsafe.Add(d, 192), h3, l3, k, s)
	}
}

// plane is the 8 bytes at lp + o, in both halves of a vector.
func plane(lp unsafe.Pointer, o int) archsimd.Int8x16 {
	return archsimd.BroadcastUint64x2(*(*uint64)(unsafe.Add(lp, o))).ReshapeToUint8s().BitsToInt8()
}

// putN writes the 16 weights with high bytes h and k low bits low.
func putN(d unsafe.Pointer, h, low archsimd.Int8x16, k int, s archsimd.Float32x4) {
	u := low.ToBits()
	put16(d, h.ExtendLo8ToInt16().ShiftAllLeft(uint64(k)).Or(u.ExtendLo8ToUint16().BitsToInt16()),
		h.ExtendHi8ToInt16().ShiftAllLeft(uint64(k)).Or(u.ExtendHi8ToUint16().BitsToInt16()), s)
}

// put16 writes the codes c0 (8 of them) then c1 times s to d.
func put16(d unsafe.Pointer, c0, c1 archsimd.Int16x8, s archsimd.Float32x4) {
	c0.ExtendLo4ToInt32().ConvertToFloat32().Mul(s).StoreArray((*[4]float32)(d))
	c0.ExtendHi4ToInt32().ConvertToFloat32().Mul(s).StoreArray((*[4]float32)(unsafe.Add(d, 16)))
	c1.ExtendLo4ToInt32().ConvertToFloat32().Mul(s).StoreArray((*[4]float32)(unsafe.Add(d, 32)))
	c1.ExtendHi4ToInt32().ConvertToFloat32().Mul(s).StoreArray((*[4]float32)(unsafe.Add(d, 48)))
}

// exp4 is e^x lane by lane in float32 (Cephes' expf: x = n·ln2 + r,
// |r| ≤ ln2/2, a degree-7 polynomial for e^r, times 2^n built in the
// exponent bits), within 2 ulp of e^x. x is clamped to [−87.3, 88.3], where
// e^x is a normal float32.
func exp4(x archsimd.Float32x4) archsimd.Float32x4 {
	x = x.Max(splat(-87.3)).Min(splat(88.3))
	n := x.Mul(splat(1.44269504088896341)).Round()
	r := x.Sub(n.Mul(splat(0.693359375))).Sub(n.Mul(splat(-2.12194440e-4)))
	p := splat(1.9875691500e-4)
	p = p.Mul(r).Add(splat(1.3981999507e-3))
	p = p.Mul(r).Add(splat(8.3334519073e-3))
	p = p.Mul(r).Add(splat(4.1665795894e-2))
	p = p.Mul(r).Add(splat(1.6666665459e-1))
	p = p.Mul(r).Add(splat(5.0000001201e-1))
	e := p.Mul(r.Mul(r)).Add(r).Add(splat(1))
	scale := n.ConvertToInt32().Add(archsimd.BroadcastInt32x4(127)).ShiftAllLeft(23).ToBits().BitsToFloat32()
	return e.Mul(scale)
}

// gelu is geluGo in float32 with exp4, 4 values at a time (the last
// len%4 padded); each value still depends only on itself.
func gelu(x []float32) {
	if !useSIMD {
		geluGo(x)
		return
	}
	for k := 0; k < len(x); k += 4 {
		u := load4(x, k)
		t := u.Mul(u).Mul(u).Mul(splat(0.044715)).Add(u).Mul(splat(-geluS2))
		g := u.Div(exp4(t).Add(splat(1)))
		if k+4 <= len(x) {
			g.StoreArray((*[4]float32)(x[k : k+4]))
		} else {
			var p [4]float32
			g.StoreArray(&p)
			copy(x[k:], p[:])
		}
	}
}

// softmaxExp is softmaxExpGo with exp4, summed in 4 lanes then
// (s0+s1)+(s2+s3), the padding masked out.
func softmaxExp(x []float32) float32 {
	if !useSIMD {
		return softmaxExpGo(x)
	}
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	m := archsimd.BroadcastFloat32x4(mx)
	var sum archsimd.Float32x4
	k := 0
	for ; k+4 <= len(x); k += 4 {
		q := (*[4]float32)(x[k : k+4])
		e := exp4(archsimd.LoadFloat32x4Array(q).Sub(m))
		e.StoreArray(q)
		sum = sum.Add(e)
	}
	if k < len(x) {
		var p [4]float32
		copy(p[:], x[k:])
		exp4(archsimd.LoadFloat32x4Array(&p).Sub(m)).StoreArray(&p)
		clear(p[len(x)-k:])
		sum = sum.Add(archsimd.LoadFloat32x4Array(&p))
		copy(x[k:], p[:])
	}
	return hsum(sum)
}

// normalize is normalizeGo 4 values at a time: the same operations, so
// the same bits.
func normalize(out, x []float32, mean, inv float32, g, b []float32) {
	if !useSIMD {
		normalizeGo(out, x, mean, inv, g, b)
		return
	}
	m, s := archsimd.BroadcastFloat32x4(mean), archsimd.BroadcastFloat32x4(inv)
	k := 0
	for ; k+4 <= len(x); k += 4 {
		v := archsimd.LoadFloat32x4Array((*[4]float32)(x[k : k+4]))
		gk := archsimd.LoadFloat32x4Array((*[4]float32)(g[k : k+4]))
		bk := archsimd.LoadFloat32x4Array((*[4]float32)(b[k : k+4]))
		v.Sub(m).Mul(s).Mul(gk).Add(bk).StoreArray((*[4]float32)(out[k : k+4]))
	}
	normalizeGo(out[k:], x[k:], mean, inv, g[k:], b[k:])
}

// splat is archsimd.BroadcastFloat32x4, called directly: through a
// function value it is an indirect call, not one instruction.
func splat(x float32) archsimd.Float32x4 { return archsimd.BroadcastFloat32x4(x) }
