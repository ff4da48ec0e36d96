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

// TestQuantizeQN: every weight decodes to step·clamp(round(w/step)), the
// error halves with each bit, and steps are float16 values.
func TestQuantizeQN(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	w := make([]float32, 5*128)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.02)
	}
	m := NewF32(5, 128, w)
	row := make([]float32, 128)
	prev := math.Inf(1)
	for bits := MinBits; bits <= MaxBits; bits++ {
		q := QuantizeQN(m, bits)
		var se, ss float64
		for o := 0; o < 5; o++ {
			q.Row(row, o)
			for k, v := range row {
				if want := decodeRef(q, o, k, w[o*128+k]); v != want {
					t.Fatalf("%d bits: weight %d,%d = %g decodes to %g, want %g", bits, o, k, w[o*128+k], v, want)
				}
				d := float64(v - w[o*128+k])
				se += d * d
				ss += float64(w[o*128+k]) * float64(w[o*128+k])
			}
		}
		rel := math.Sqrt(se / ss)
		if bound := 1.7 * math.Pow(2, -float64(bits)); rel > bound || rel > prev*0.6 {
			t.Errorf("%d bits: relative RMS error %.4g (bound %.4g, previous width %.4g)", bits, rel, bound, prev)
		}
		prev = rel
		for _, s := range q.Steps {
			if RoundF16(s) != s {
				t.Fatalf("%d bits: step %g is not a float16 value", bits, s)
			}
		}
	}
}

// decodeRef is the weight a QN matrix should hold for w at row o, column k:
// s·clamp(round(w/s)) with s = step/2^(bits−8).
func decodeRef(q *QN, o, k int, w float32) float32 {
	s := q.Steps[o*q.C/QNBlock+k/QNBlock] / float32(int(1)<<(q.Bits-8))
	if s == 0 {
		return 0
	}
	c := math.Round(float64(w / s))
	c = min(max(c, -math.Ldexp(1, q.Bits-1)), math.Ldexp(1, q.Bits-1)-1)
	return s * float32(c)
}

// TestQNMulT: QN products equal F32 products of the dequantised matrix bit
// for bit, batched or not, all rows or some.
func TestQNMulT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for i, shape := range [][2]int{{5, 64}, {13, 192}, {64, 3072}, {770, 128}} {
		R, C := shape[0], shape[1]
		bits := []int{9, 8, 11, 16}[i]
		w := make([]float32, R*C)
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		q := QuantizeQN(NewF32(R, C, w), bits)
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

// TestQuantizeTinyBlock: a block of weights below float16's normal range
// gets the smallest steps that represent it (never a division by zero,
// whose result differs by platform); a block below its whole range, zeros.
func TestQuantizeTinyBlock(t *testing.T) {
	w := make([]float32, 64)
	w[3], w[9] = 1e-7, -2e-7
	for bits := MinBits; bits <= MaxBits; bits++ {
		q := QuantizeQN(NewF32(1, 64, w), bits)
		row := make([]float32, 64)
		q.Row(row, 0)
		for k, v := range row {
			if want := decodeRef(q, 0, k, w[k]); v != want || math.Abs(float64(v-w[k])) > 0.5e-7 {
				t.Fatalf("%d bits: weight %d = %g decodes to %g (want %g)", bits, k, w[k], v, want)
			}
		}
		z := QuantizeQN(NewF32(1, 64, make([]float32, 64)), bits)
		z.Row(row, 0)
		for k, v := range row {
			if v != 0 {
				t.Fatalf("%d bits: zero block decodes to %g at %d", bits, v, k)
			}
		}
	}

}
