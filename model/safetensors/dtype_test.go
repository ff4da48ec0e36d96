package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestF16ToF32Known(t *testing.T) {
	cases := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195}, {0x7bff, 65504},
		{0x0400, 6.1035156e-05},     // smallest normal
		{0x0001, 5.9604645e-08},     // smallest subnormal, 2⁻²⁴
		{0x03ff, 6.0975552e-05},     // largest subnormal
		{0x8200, -3.0517578125e-05}, // negative subnormal, -2⁻¹⁵
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		if got := f16ToF32(c.h); got != c.want {
			t.Errorf("f16ToF32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if got := f16ToF32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("f16ToF32(0x8000) = %v, want -0", got)
	}
	for _, h := range []uint16{0x7e00, 0x7c01, 0xfe00, 0x7fff} {
		if got := f16ToF32(h); got == got {
			t.Errorf("f16ToF32(%#04x) = %v, want NaN", h, got)
		}
	}
}

// TestF16Exhaustive checks every binary16 value against the definition
// (-1)^s · 2^(e-15) · (1 + m/1024), or 2⁻¹⁴ · m/1024 when e = 0, and that
// encoding the result gives back the same bits.
func TestF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		s, e, m := h>>15, int(h>>10)&0x1f, float64(h&0x3ff)
		var want float64
		switch e {
		case 0x1f:
			want = math.Inf(1)
			if m != 0 {
				want = math.NaN()
			}
		case 0:
			want = math.Ldexp(m/1024, -14)
		default:
			want = math.Ldexp(1+m/1024, e-15)
		}
		if s == 1 {
			want = -want
		}
		got := f16ToF32(h)
		if !(float64(got) == want || (math.IsNaN(want) && got != got)) || math.Signbit(float64(got)) != (s == 1) {
			t.Fatalf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
		if back := f32ToF16(got); back != h {
			t.Fatalf("f32ToF16(f16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

// TestF32ToF16Rounding checks round-to-nearest-even against the neighbouring
// binary16 values, on random bit patterns and on the boundaries.
func TestF32ToF16Rounding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := []float32{65504, 65519.99, 65520, 1e9, 2.9802322e-08, 2.9802326e-08, 8.940697e-08, 1 + 1.0/2048, 1 + 3.0/2048, 6.1e-5}
	for range 200000 {
		xs = append(xs, math.Float32frombits(r.Uint32()))
		xs = append(xs, float32(r.NormFloat64())*float32(math.Ldexp(1, r.IntN(48)-30)))
	}
	for _, x := range xs {
		if x != x {
			continue
		}
		h := f32ToF16(x)
		ax, sign := math.Abs(float64(x)), uint16(0)
		if math.Signbit(float64(x)) {
			sign = 0x8000
		}
		if h&0x7fff == 0x7c00 {
			if ax < 65520 {
				t.Fatalf("f32ToF16(%v) = Inf", x)
			}
			continue
		}
		if h&0x8000 != sign {
			t.Fatalf("f32ToF16(%v) = %#04x: wrong sign", x, h)
		}
		mag := h & 0x7fff
		d := math.Abs(ax - float64(f16ToF32(mag)))
		for _, n := range []uint16{mag - 1, mag + 1} {
			if n > 0x7c00 || (mag == 0 && n == 0xffff) {
				continue
			}
			dn := math.Abs(ax - float64(f16ToF32(n)))
			if dn < d || (dn == d && n&1 == 0) {
				t.Fatalf("f32ToF16(%v) = %#04x (%v), but %#04x (%v) is nearer or an even tie", x, h, f16ToF32(h), n, f16ToF32(n))
			}
		}
	}
	if h := f32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("f32ToF16(NaN) = %#04x", h)
	}
	if h := f32ToF16(math.Float32frombits(0x7f800001)); h&0x3ff == 0 {
		t.Errorf("NaN with a low payload became %#04x", h)
	}
}

func TestBF16(t *testing.T) {
	cases := []struct {
		x    float32
		want uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {0, 0},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81},
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max float32 rounds to Inf
		{float32(math.Inf(-1)), 0xff80},
	}
	for _, c := range cases {
		if got := f32ToBF16(c.x); got != c.want {
			t.Errorf("f32ToBF16(%v) = %#04x, want %#04x", c.x, got, c.want)
		}
	}
	if h := f32ToBF16(math.Float32frombits(0x7f800001)); h&0x7f80 != 0x7f80 || h&0x7f == 0 {
		t.Errorf("NaN became %#04x", h)
	}
	for i := 0; i < 1<<16; i++ {
		x := decodeOne("BF16", []byte{byte(i), byte(i >> 8)})
		if x == x && f32ToBF16(x) != uint16(i) {
			t.Fatalf("BF16 %#04x does not round-trip", i)
		}
	}
}

func TestEncodeUnsupported(t *testing.T) {
	if _, err := Encode("I8", []float32{1}); err == nil {
		t.Fatal("no error")
	}
}
