//go:build !(js && wasm && goexperiment.simd)

package tensor

// Without WebAssembly SIMD the vector operations are the portable ones.

func dequant(dst []float32, hi []int8, lo []uint8, stride int, steps []float32, k int) {
	dequantGo(dst, hi, lo, stride, steps, k)
}

func gelu(x []float32)                     { geluGo(x) }
func softmaxExp(x []float32) (sum float32) { return softmaxExpGo(x) }

func normalize(out, x []float32, mean, inv float32, g, b []float32) {
	normalizeGo(out, x, mean, inv, g, b)
}

func axpy4(y []float32, w *[4][]float32, a0, a1, a2, a3 float32) {
	axpy4Go(y, w, a0, a1, a2, a3)
}
