package tensor

import "math"

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

// GELU applies GPT-2's tanh approximation in place,
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as the equal
// x / (1 + exp(−2·√(2/π)·(x + 0.044715·x³))): one exp instead of a tanh.
// Each value depends only on itself.
func GELU(x []float32) { gelu(x) }

func geluGo(x []float32) {
	for i, v := range x {
		u := float64(v)
		x[i] = float32(u / (1 + math.Exp(-geluS2*(u+0.044715*u*u*u))))
	}
}

const geluS2 = 2 * 0.7978845608028654 // 2·√(2/π)

// SoftmaxExp replaces each x[j] by exp(x[j] − max x) and returns their sum:
// softmax(x) is x/sum afterwards. The result depends only on x.
func SoftmaxExp(x []float32) (sum float32) {
	if len(x) == 0 {
		return 0
	}
	return softmaxExp(x)
}

func softmaxExpGo(x []float32) (sum float32) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	for j, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[j] = e
		sum += e
	}
	return sum
}

// Normalize writes (x[k] − mean)·inv·g[k] + b[k] to out[k] for k < len(x):
// LayerNorm's last step. g, b and out must be at least as long as x.
func Normalize(out, x []float32, mean, inv float32, g, b []float32) {
	normalize(out[:len(x)], x, mean, inv, g[:len(x)], b[:len(x)])
}

func normalizeGo(out, x []float32, mean, inv float32, g, b []float32) {
	for k, v := range x {
		out[k] = float32(float32((v-mean)*inv)*g[k]) + b[k]
	}
}
