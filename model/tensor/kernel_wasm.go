//go:build js && wasm && !goexperiment.simd

package tensor

// The portable wasm build (no SIMD instructions): the block products in
// hand-written WebAssembly (mulRows, kernel_wasm.s) in the portable order of
// kernel_generic.go, so they give mulF32Go's bits. Go compiles every loop to
// a jump through its function's dispatch table, which costs V8 its
// registers.

// useAsm = false (for the tests) selects mulF32Go.
var useAsm = true

func mulF32(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	if !useAsm || m.C%4 != 0 {
		mulF32Go(m, y, x, n, rows, lo, hi, ys)
		return
	}
	mulRows(m, y, x, n, rows, lo, hi, ys, goBlockRows != 1)
}

func dot(a, b []float32) float32 { return dotGo(a, b) }

func axpy(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }
