package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/patchlab/patchlab/model/safetensors"
)

// TestF16MatchesSafetensors checks the float16 conversions against the
// safetensors package's (tested exhaustively there) on every bit pattern
// and on random float32 values.
func TestF16MatchesSafetensors(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		b := []byte{byte(h), byte(h >> 8)}
		f, err := safetensors.Parse(fakeFile(b), int64(len(fakeFile(b).bytes())), "f16")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := f.Float32("x")
		got := F16ToF32(uint16(h))
		if math.Float32bits(got) != math.Float32bits(want[0]) && !(got != got && want[0] != want[0]) {
			t.Fatalf("F16ToF32(%#04x) = %g, want %g", h, got, want[0])
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 200000 {
		x := float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-8)))
		enc, _ := safetensors.Encode("F16", []float32{x})
		want := uint16(enc[0]) | uint16(enc[1])<<8
		if got := F32ToF16(x); got != want {
			t.Fatalf("F32ToF16(%g) = %#04x, want %#04x", x, got, want)
		}
	}
}

// fakeFile is a one-element F16 safetensors file holding b.
type fakeFile []byte

func (f fakeFile) ReadAt(p []byte, off int64) (int, error) { return copy(p, f.bytes()[off:]), nil }

func (f fakeFile) bytes() []byte {
	hdr := `{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`
	out := []byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}
	return append(append(out, hdr...), f...)
}

func TestQuantizeQ9(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	w := make([]float32, 5*128)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.02)
	}
	m := NewF32(5, 128, w)
	q9, q8 := QuantizeQ9(m), QuantizeMSE(m)
	row := make([]float32, 128)
	for _, tc := range []struct {
		name string
		q    Matrix
		tol  float64 // relative RMS error bound
	}{{"q9", q9, 0.004}, {"q8", q8, 0.007}} {
		var se, ss float64
		for o := 0; o < 5; o++ {
			tc.q.Row(row, o)
			for k, v := range row {
				d := float64(v - w[o*128+k])
				se += d * d
				ss += float64(w[o*128+k]) * float64(w[o*128+k])
			}
		}
		if rel := math.Sqrt(se / ss); rel > tc.tol {
			t.Errorf("%s: relative RMS error %.4g > %g", tc.name, rel, tc.tol)
		}
	}
	for _, s := range q9.Scales {
		if RoundF16(s) != s {
			t.Fatalf("scale %g is not a float16 value", s)
		}
	}
}

// TestQ9MulT: Q9 products equal F32 products of the dequantised matrix bit
// for bit, batched or not, all rows or some.
func TestQ9MulT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, shape := range [][2]int{{5, 64}, {13, 192}, {64, 3072}, {770, 128}} {
		R, C := shape[0], shape[1]
		w := make([]float32, R*C)
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		q := QuantizeQ9(NewF32(R, C, w))
		deq := make([]float32, R*C)
		for o := 0; o < R; o++ {
			q.Row(deq[o*C:], o)
		}
		ref := NewF32(R, C, deq)
		for _, n := range []int{1, 3, 17} {
			x := make([]float32, n*C)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			got, want := make([]float32, n*R), make([]float32, n*R)
			q.MulT(got, x, n)
			ref.MulT(want, x, n)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v n=%d: output %d = %g, want %g", shape, n, i, got[i], want[i])
				}
			}
			one := make([]float32, R)
			q.MulT(one, x[(n-1)*C:], 1)
			for o := range one {
				if one[o] != got[(n-1)*R+o] {
					t.Fatalf("%v: the last row alone differs from the batch", shape)
				}
			}
			rows := []int{R - 1, 0, R / 2}
			sel := make([]float32, n*len(rows))
			q.MulTRows(sel, x, n, rows)
			for i := 0; i < n; i++ {
				for j, o := range rows {
					if sel[i*len(rows)+j] != got[i*R+o] {
						t.Fatalf("%v: MulTRows differs from MulT", shape)
					}
				}
			}
		}
	}
}

// TestQuantizeTinyBlock: a block too small for any float16 scale becomes
// zeros (not codes from a division by zero, which differ by platform).
func TestQuantizeTinyBlock(t *testing.T) {
	w := make([]float32, 64)
	w[3], w[9] = 1e-7, -2e-7
	q := QuantizeQ9(NewF32(1, 64, w))
	row := make([]float32, 64)
	q.Row(row, 0)
	for k, v := range row {
		if v != 0 || q.Hi[k] != 0 {
			t.Fatalf("weight %d: %g (hi %d), want 0", k, v, q.Hi[k])
		}
	}
	if q8 := QuantizeMSE(NewF32(1, 64, w)); q8.Q[3] != 0 || q8.Q[9] != 0 {
		t.Fatalf("int8 codes %d %d, want 0", q8.Q[3], q8.Q[9])
	}
}
