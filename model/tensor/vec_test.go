package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// GELU against its exp form in float64 (the tanh form cancels for x ≪ 0),
// over the range a model sees and beyond (where exp under- or overflows).
// Evaluated in float32, t = 2·√(2/π)·(x + 0.044715·x³) has a relative error
// of a few ulp, which e^−t multiplies by |t|.
func TestGELU(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range []int{0, 1, 3, 4, 7, 64, 1001} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 3)
			}
			if n > 4 {
				x[0], x[1], x[2], x[3] = -200, 200, 0, -1e-30
			}
			got := slices.Clone(x)
			GELU(got)
			for i, v := range x {
				u := float64(v)
				tu := 2 * math.Sqrt(2/math.Pi) * (u + 0.044715*u*u*u)
				want := u / (1 + math.Exp(-tu))
				if d := math.Abs(float64(got[i]) - want); d > (1e-6+2e-7*math.Abs(tu))*math.Abs(want)+1e-30 {
					t.Fatalf("n=%d: GELU(%g) = %g, want %g", n, v, got[i], want)
				}
			}
		}
	})
}

func TestSoftmaxExp(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for n := 1; n < 40; n++ {
			x := randVec(rng, n)
			for i := range x {
				x[i] *= 20
			}
			mx := slices.Max(x)
			got := slices.Clone(x)
			sum := SoftmaxExp(got)
			var want float64
			for i, v := range x {
				e := math.Exp(float64(v - mx))
				want += e
				if d := math.Abs(float64(got[i]) - e); d > 3e-7*e {
					t.Fatalf("n=%d: exp(%g) = %g, want %g", n, v-mx, got[i], e)
				}
			}
			if d := math.Abs(float64(sum) - want); d > 1e-6*want {
				t.Fatalf("n=%d: sum %g, want %g", n, sum, want)
			}
		}
	})
}

// Normalize rounds each operation to float32, as written.
func TestNormalize(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 16))
		for n := 0; n < 20; n++ {
			x, g, b := randVec(rng, n), randVec(rng, n+1), randVec(rng, n+2)
			out := make([]float32, n+3)
			Normalize(out, x, 0.3, 1.7, g, b)
			for k, v := range x {
				d := float32(v - 0.3)
				d = float32(d * 1.7)
				d = float32(d * g[k])
				if want := d + b[k]; out[k] != want {
					t.Fatalf("n=%d: out[%d] = %g, want %g", n, k, out[k], want)
				}
			}
		}
	})
}
