//go:build js && wasm && !goexperiment.simd

package tensor

import "unsafe"

// The portable wasm build (no SIMD instructions): the block products in
// hand-written WebAssembly (mulRowsScalar2x4 and 1x4, kernel_wasm.s, written
// by asm_wasm_gen.go), in the portable order of kernel_generic.go, so they
// give mulF32Go's bits. Go compiles every loop to a jump through its
// function's dispatch table, which costs V8 its registers.

//go:noescape
func mulRowsScalar2x4(y, x, w0, w1, w2, w3 unsafe.Pointer, ys, xs, blocks, quads int)

//go:noescape
func mulRowsScalar1x4(y, x, w0, w1, w2, w3 unsafe.Pointer, ys, xs, blocks, quads int)

// useAsm = false (for the tests) selects mulF32Go.
var useAsm = true

func mulF32(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	C := m.C
	if !useAsm || C%4 != 0 || n == 0 || hi <= lo {
		mulF32Go(m, y, x, n, rows, lo, hi, ys)
		return
	}
	row := func(j int) unsafe.Pointer {
		if rows != nil {
			j = rows[j]
		}
		return unsafe.Pointer(&m.Data[j*C:][:C][0])
	}
	px, py := unsafe.Pointer(&x[:n*C][0]), unsafe.Pointer(&y[:(n-1)*ys+hi][0])
	at := func(p unsafe.Pointer, i int) unsafe.Pointer { return unsafe.Add(p, 4*i) }
	pairs := n / 2
	if goBlockRows == 1 {
		pairs = 0
	}
	j := lo
	for ; j+4 <= hi; j += 4 {
		w0, w1, w2, w3 := row(j), row(j+1), row(j+2), row(j+3)
		if pairs > 0 {
			mulRowsScalar2x4(at(py, j), px, w0, w1, w2, w3, 4*ys, 4*C, pairs, C/4)
		}
		if rest := n - 2*pairs; rest > 0 {
			mulRowsScalar1x4(at(py, 2*pairs*ys+j), at(px, 2*pairs*C), w0, w1, w2, w3, 4*ys, 4*C, rest, C/4)
		}
	}
	for ; j < hi; j++ {
		w := m.Data[j*C : (j+1)*C]
		if rows != nil {
			w = m.Data[rows[j]*C : (rows[j]+1)*C]
		}
		for r := range n {
			y[r*ys+j] = dotGo(x[r*C:(r+1)*C], w)
		}
	}
}

func dot(a, b []float32) float32 { return dotGo(a, b) }

func axpy(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }
