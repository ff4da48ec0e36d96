//go:build (!amd64 || purego) && !wasm

package tensor

func mulF32(m *F32, y, x []float32, n int, rows []int, lo, hi, ys int) {
	mulF32Go(m, y, x, n, rows, lo, hi, ys)
}

func dot(a, b []float32) float32 { return dotGo(a, b) }

func axpy(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }
