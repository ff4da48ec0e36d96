//go:build !purego

package tensor

import "sync"

//go:generate go run asm_gen.go

// The amd64 kernels (kernel_avx512_amd64.s, kernel_avx2_amd64.s, written by
// asm_gen.go, which documents them) compute a register block of mr input
// rows × 4 weight rows: every weight chunk loaded is used mr times and every
// input chunk 4 times. Each output has one vector accumulator (16 lanes with
// AVX-512, 8 with AVX2) summed over the columns in chunks, the last chunk
// zero-padded by a masked load, then reduced by a fixed pairwise tree: the
// order depends only on Cols, never on the block, n or the thread split.
// Weight rows go in blocks of 4 (f32k*_mrx4); the last Rows%4 rows one at a
// time (f32k*_1x1), in the same order.

type (
	f32Kern4 func(x *float32, xs uintptr, w0, w1, w2, w3 *float32, k int, y *float32, ys uintptr, acc *float32, flags int)
	f32Kern1 func(x *float32, xs uintptr, w0 *float32, k int, y *float32, ys uintptr)
)

// Indexed by mr, the number of input rows in the block.
var (
	f32Kerns512 = []f32Kern4{nil, f32k512_1x4, f32k512_2x4, f32k512_3x4, f32k512_4x4, f32k512_5x4, f32k512_6x4}
	f32Kerns256 = []f32Kern4{nil, f32k256_1x4, f32k256_2x4}
)

func mulF32(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	switch {
	case useAVX512:
		mulF32Asm(f32Kerns512, f32k512_1x1, 16, m, y, x, n, rows, lo, hi, ys)
	case useAVX2:
		mulF32Asm(f32Kerns256, f32k256_1x1, 8, m, y, x, n, rows, lo, hi, ys)
	default:
		mulF32Go(m, y, x, n, rows, lo, hi, ys)
	}
}

// dot is one output in the order of the kernels in use; len(b) >= len(a).
func dot(a, b []float32) float32 {
	if len(a) == 0 || (!useAVX512 && !useAVX2) {
		return dotGo(a, b)
	}
	_ = b[len(a)-1]
	var r float32
	if useAVX512 {
		f32k512_1x1(&a[0], 0, &b[0], len(a), &r, 0)
	} else {
		f32k256_1x1(&a[0], 0, &b[0], len(a), &r, 0)
	}
	return r
}

// panelCols is the widest column panel the F32 kernels take in one call.
// Longer rows (FC projection: 3072) are cut into panels so that the panel of
// the mr input rows stays in L1 while the kernel walks the weight rows; the
// accumulators are carried from panel to panel (see asm_gen.go).
const panelCols = 1024

// accPool holds the accumulators saved between column panels.
var accPool = sync.Pool{New: func() any { return new([]float32) }}

// mulF32Asm computes the outputs j ∈ [lo, hi) of every input row for weight
// rows rows[j] (or j when rows is nil); y has row stride ys. The caller has
// checked every length, so the raw pointers stay in bounds. The weight rows
// [lo, hi) are one cache-sized chunk: the loop over input blocks is outside,
// so the chunk stays in cache while all of x goes past it.
func mulF32Asm(kerns []f32Kern4, k1 f32Kern1, lanes int, m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	C, w := m.C, m.Data
	mr := len(kerns) - 1
	xs, ysb := uintptr(4*C), uintptr(4*ys)
	var acc []float32
	if C > panelCols {
		p := accPool.Get().(*[]float32)
		defer accPool.Put(p)
		if need := (hi - lo) / 4 * mr * 4 * lanes; len(*p) < need {
			*p = make([]float32, need)
		}
		acc = *p
	}
	for i := 0; i < n; i += mr {
		b := min(mr, n-i)
		kern := kerns[b]
		for p0 := 0; p0 < C; p0 += panelCols {
			kw, flags := min(panelCols, C-p0), 0
			if p0 > 0 {
				flags |= 1 // resume
			}
			if p0+kw < C {
				flags |= 2 // save
			}
			xp := &x[i*C+p0]
			for j := lo; j+4 <= hi; j += 4 {
				o0, o1, o2, o3 := j, j+1, j+2, j+3
				if rows != nil {
					o0, o1, o2, o3 = rows[j], rows[j+1], rows[j+2], rows[j+3]
				}
				var ap *float32
				if acc != nil {
					ap = &acc[(j-lo)/4*mr*4*lanes]
				}
				kern(xp, xs, &w[o0*C+p0], &w[o1*C+p0], &w[o2*C+p0], &w[o3*C+p0], kw, &y[i*ys+j], ysb, ap, flags)
			}
		}
		for j := lo + (hi-lo)&^3; j < hi; j++ {
			o := j
			if rows != nil {
				o = rows[j]
			}
			for r := i; r < i+b; r++ {
				k1(&x[r*C], 0, &w[o*C], C, &y[r*ys+j], 0)
			}
		}
	}
}

func axpy(alpha float32, x, y []float32) {
	if len(x) == 0 || !useAVX2 {
		axpyGo(alpha, x, y)
		return
	}
	_ = y[len(x)-1]
	axpyAVX(alpha, &x[0], &y[0], len(x))
}

//go:noescape
func axpyAVX(alpha float32, x, y *float32, n int)
