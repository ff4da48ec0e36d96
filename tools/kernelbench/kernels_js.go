//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall/js"
	"time"

	"github.com/patchlab/patchlab/model/tensor"
)

// main (the page's half) times the kernels on GPT-2 small's shapes with the
// web format's code widths and leaves {"name": GFLOP/s, …} in the global
// kernelbench for the driver.
func main() {
	rng := rand.New(rand.NewPCG(1, 1))
	res := map[string]float64{}
	for _, s := range shapes {
		q := randomQN(rng, s.r, s.c, s.bits)
		for _, n := range s.ns {
			x, y := randVec(rng, n*s.c), make([]float32, n*s.r)
			res[fmt.Sprintf("%s/MulT/n=%d", s.name, n)] = gflops(2*n*s.r*s.c, func() { q.MulT(y, x, n) })
		}
		if s.back {
			const n = 11
			x, y := randVec(rng, n*s.r), make([]float32, n*s.c)
			res[fmt.Sprintf("%s/MulN/n=%d", s.name, n)] = gflops(2*n*s.r*s.c, func() { tensor.MulN(y, x, n, q) })
		}
	}
	b, _ := json.Marshal(res)
	js.Global().Set("kernelbench", string(b))
}

// shapes are GPT-2 small's matrices (Rows×Cols) with the web format's code
// widths (9 bits, 8 for the unembedding) and the sweep's row counts.
var shapes = []struct {
	name       string
	r, c, bits int
	ns         []int
	back       bool // time MulN too (the backward pass's product)
}{
	{"qkv", 2304, 768, 9, []int{1, 11, 22, 55}, true},
	{"proj", 768, 768, 9, []int{1, 11, 22, 55}, true},
	{"fc", 3072, 768, 9, []int{1, 11, 22, 55}, true},
	{"fcproj", 768, 3072, 9, []int{1, 11, 22, 55}, true},
	{"unembed", 50257, 768, 8, []int{1}, false},
}

// gflops runs f for at least 0.2 s three times and returns the best rate.
func gflops(flops int, f func()) float64 {
	f() // warm up (and let the engine tier up)
	best := 0.0
	for range 3 {
		start, runs := time.Now(), 0
		for time.Since(start) < 200*time.Millisecond {
			f()
			runs++
		}
		best = max(best, float64(flops)*float64(runs)/time.Since(start).Seconds()/1e9)
	}
	return float64(int(best*100+0.5)) / 100
}

// randomQN is a QN matrix of random codes and float16-sized steps (the
// kernels' cost does not depend on the values; quantising would take long).
func randomQN(rng *rand.Rand, r, c, bits int) *tensor.QN {
	hi := make([]int8, r*c)
	for i := range hi {
		hi[i] = int8(rng.IntN(256) - 128)
	}
	lo := make([]uint8, r*(bits-8)*c/8)
	for i := range lo {
		lo[i] = uint8(rng.IntN(256))
	}
	steps := make([]float32, r*c/tensor.QNBlock)
	for i := range steps {
		steps[i] = tensor.RoundF16(float32(rng.Float64()) * 1e-3)
	}
	return tensor.NewQN(r, c, bits, hi, lo, steps)
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	return v
}
