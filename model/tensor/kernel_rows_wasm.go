//go:build js && wasm

package tensor

import "unsafe"

// mulRows2x4 and mulRows1x4 are the block products in hand-written
// WebAssembly (written by asm_wasm_gen.go), in the build's order:
// kernel_simd_wasm.s in the SIMD build, kernel_wasm.s in the portable one.
// They compute blocks blocks of mr×4 outputs, mr input rows by weight rows
// w0…w3, over 4·quads columns: input row i at x + i·xs bytes, output (i, j)
// at y + i·ys + 4j bytes.
//
//go:noescape
func mulRows2x4(y, x, w0, w1, w2, w3 unsafe.Pointer, ys, xs, blocks, quads int)

//go:noescape
func mulRows1x4(y, x, w0, w1, w2, w3 unsafe.Pointer, ys, xs, blocks, quads int)

// ptr is the address of s[0] after checking that s holds n values.
func ptr(s []float32, n int) unsafe.Pointer {
	_ = s[n-1]
	return unsafe.Pointer(unsafe.SliceData(s))
}

// mulRows computes the outputs j ∈ [lo, hi) of every input row for weight
// rows rows[j] (or j when rows is nil), y with row stride ys, with the
// block kernels: input rows two at a time when pairs, else one; the last
// (hi−lo) mod 4 outputs with dot. m.C must be a multiple of 4. Four weight
// rows at a time stay in L1 while every input row goes past them.
func mulRows(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int, pairs bool) {
	C := m.C
	if n == 0 || hi <= lo {
		return
	}
	row := func(j int) unsafe.Pointer {
		if rows != nil {
			j = rows[j]
		}
		return ptr(m.Data[j*C:], C)
	}
	px, py := ptr(x, n*C), ptr(y, (n-1)*ys+hi)
	at := func(p unsafe.Pointer, i int) unsafe.Pointer { return unsafe.Add(p, 4*i) }
	two := 0
	if pairs {
		two = n / 2
	}
	j := lo
	for ; j+4 <= hi; j += 4 {
		w0, w1, w2, w3 := row(j), row(j+1), row(j+2), row(j+3)
		if two > 0 {
			mulRows2x4(at(py, j), px, w0, w1, w2, w3, 4*ys, 4*C, two, C/4)
		}
		if rest := n - 2*two; rest > 0 {
			mulRows1x4(at(py, 2*two*ys+j), at(px, 2*two*C), w0, w1, w2, w3, 4*ys, 4*C, rest, C/4)
		}
	}
	for ; j < hi; j++ {
		w := m.Data[j*C : (j+1)*C]
		if rows != nil {
			w = m.Data[rows[j]*C : (rows[j]+1)*C]
		}
		for r := range n {
			y[r*ys+j] = dot(x[r*C:(r+1)*C], w)
		}
	}
}
