package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

var dtypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"U16": 2, "I16": 2, "F16": 2, "BF16": 2,
	"U32": 4, "I32": 4, "F32": 4,
	"U64": 8, "I64": 8, "F64": 8,
}

// DTypeSize is the size in bytes of one element of dtype, 0 if unknown.
func DTypeSize(dtype string) int { return dtypeSizes[dtype] }

// IsFloat reports whether File.Float32 can read tensors of dtype.
func IsFloat(dtype string) bool { return decoders[dtype] != nil }

// decoders convert little-endian data to float32: dst has len(b)/size elements.
var decoders = map[string]func(dst []float32, b []byte){
	"F32": func(dst []float32, b []byte) {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	},
	"F16": func(dst []float32, b []byte) {
		for i := range dst {
			dst[i] = f16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	},
	"BF16": func(dst []float32, b []byte) {
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	},
	"F64": func(dst []float32, b []byte) {
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	},
}

// Encode converts v to little-endian data of dtype F32, F16, BF16 or F64,
// rounding to nearest even.
func Encode(dtype string, v []float32) ([]byte, error) {
	switch dtype {
	case "F32":
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b, nil
	case "F16", "BF16":
		conv := f32ToF16
		if dtype == "BF16" {
			conv = f32ToBF16
		}
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], conv(x))
		}
		return b, nil
	case "F64":
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(x)))
		}
		return b, nil
	}
	return nil, fmt.Errorf("safetensors: cannot encode float32 as %q", dtype)
}

// f16ToF32 converts an IEEE 754 binary16 value exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN (payload kept)
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal mant·2⁻²⁴: shift the leading one up to the implicit bit.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// f32ToF16 rounds to the nearest binary16 value, ties to even; too large
// values become Inf, NaN stays NaN.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7c00 | uint16(max(mant>>13, 1))
	}
	e := exp - 127 + 15 // binary16 biased exponent
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e < -10: // below half the smallest subnormal: rounds to zero
		return sign
	case e <= 0: // subnormal: value = (mant|1<<23) · 2^(e-14-10) = s · 2⁻²⁴
		return sign | uint16(roundShift(mant|0x800000, uint32(14-e)))
	}
	// A carry out of the mantissa correctly bumps the exponent (up to Inf).
	return sign | uint16(roundShift(uint32(e)<<23|mant, 13))
}

// roundShift is x >> s rounded to nearest, ties to even.
func roundShift(x, s uint32) uint32 {
	q, rem, half := x>>s, x&(1<<s-1), uint32(1)<<(s-1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// f32ToBF16 rounds to the nearest bfloat16 value, ties to even.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep it NaN (quiet) after truncation
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
