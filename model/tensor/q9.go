package tensor

import (
	"math"
	"sync"
)

// Q9Block is the number of consecutive weights along a row of a Q9 matrix
// that share one scale.
const Q9Block = 64

// Q9 is a Matrix of 9-bit integer codes q ∈ [−256, 255] with one float32
// scale per Q9Block weights along each row: M[o][k] = Scales[o][k/Q9Block]·q.
// A code is stored as two planes so that the bulk stays one byte a weight:
// Hi[o][k] = q >> 1 (arithmetic) and bit k%8 of Lo[o][k/8] = q & 1, so
// q = 2·Hi + bit. Cols must be a multiple of Q9Block.
//
// Nine bits rather than eight: on GPT-2-shaped models, int8 block matrices
// move a patching heatmap by ~5% of its range; nine bits bring it to ~2%.
type Q9 struct {
	R, C   int
	Hi     []int8    // [R][C]
	Lo     []uint8   // [R][C/8]
	Scales []float32 // [R][C/Q9Block]
}

// NewQ9 wraps quantised data without copying.
func NewQ9(rows, cols int, hi []int8, lo []uint8, scales []float32) *Q9 {
	if cols%Q9Block != 0 || len(hi) != rows*cols || len(lo) != rows*cols/8 || len(scales) != rows*cols/Q9Block {
		panic("tensor: NewQ9: data length does not match shape")
	}
	return &Q9{R: rows, C: cols, Hi: hi, Lo: lo, Scales: scales}
}

func (m *Q9) Rows() int    { return m.R }
func (m *Q9) Cols() int    { return m.C }
func (m *Q9) Bytes() int64 { return int64(len(m.Hi)+len(m.Lo)) + 4*int64(len(m.Scales)) }

func (m *Q9) Row(dst []float32, r int) {
	nb := m.C / Q9Block
	dequant9(dst[:m.C], m.Hi[r*m.C:(r+1)*m.C], m.Lo[r*m.C/8:(r+1)*m.C/8], m.Scales[r*nb:(r+1)*nb])
}

// dequant9 writes scales[k/Q9Block]·(2·hi[k] + bit k of lo) to dst[k]
// (unrolled by the 8 codes of one lo byte; loop iterations are costly in wasm).
func dequant9(dst []float32, hi []int8, lo []uint8, scales []float32) {
	for k := 0; k+8 <= len(dst); k += 8 {
		s, b := scales[k/Q9Block], int32(lo[k/8])
		d := dst[k : k+8 : k+8]
		h := hi[k : k+8 : k+8]
		d[0] = s * float32(2*int32(h[0])+b&1)
		d[1] = s * float32(2*int32(h[1])+b>>1&1)
		d[2] = s * float32(2*int32(h[2])+b>>2&1)
		d[3] = s * float32(2*int32(h[3])+b>>3&1)
		d[4] = s * float32(2*int32(h[4])+b>>4&1)
		d[5] = s * float32(2*int32(h[5])+b>>5&1)
		d[6] = s * float32(2*int32(h[6])+b>>6&1)
		d[7] = s * float32(2*int32(h[7])+b>>7&1)
	}
}

// MulT dequantises one cache-sized chunk of rows at a time into scratch and
// runs the F32 kernel on it, so MulT equals F32.MulT of the dequantised
// matrix bit for bit, batch-independent as F32 is, and the matrix is never
// inflated beyond one chunk.
func (m *Q9) MulT(y, x []float32, n int) {
	if !checkMul(m.R, m.C, len(m.Hi), y, x, n, m.R) {
		return
	}
	forChunks(m.R, chunkRows(m.C, 4, m.R), n*m.R*m.C, func(lo, hi int) {
		m.mulChunk(y, x, n, nil, lo, hi, m.R)
	})
}

func (m *Q9) MulTRows(y, x []float32, n int, rows []int) {
	if !checkMul(m.R, m.C, len(m.Hi), y, x, n, len(rows)) {
		return
	}
	checkRows(rows, m.R)
	forChunks(len(rows), chunkRows(m.C, 4, len(rows)), n*len(rows)*m.C, func(lo, hi int) {
		m.mulChunk(y, x, n, rows, lo, hi, len(rows))
	})
}

var scratch9 = sync.Pool{New: func() any { return new([]float32) }}

// mulChunk computes outputs [lo, hi) (of rows, or of all rows when nil).
func (m *Q9) mulChunk(y, x []float32, n int, rows []int, lo, hi, ys int) {
	p := scratch9.Get().(*[]float32)
	defer scratch9.Put(p)
	if len(*p) < (hi-lo)*m.C {
		*p = make([]float32, (hi-lo)*m.C)
	}
	w := &F32{R: hi - lo, C: m.C, Data: (*p)[:(hi-lo)*m.C]}
	for j := lo; j < hi; j++ {
		o := j
		if rows != nil {
			o = rows[j]
		}
		m.Row(w.Data[(j-lo)*m.C:], o)
	}
	mulF32(w, y[lo:], x, n, nil, 0, hi-lo, ys)
}

// QuantizeQ9 converts an F32 matrix to Q9, choosing each block's scale
// (a float16 value) to minimise the block's squared error.
func QuantizeQ9(m *F32) *Q9 {
	hi := make([]int8, m.R*m.C)
	lo := make([]uint8, m.R*m.C/8)
	scales := make([]float32, m.R*m.C/Q9Block)
	codes := make([]int32, Q9Block)
	for o := 0; o < m.R; o++ {
		for b := 0; b < m.C/Q9Block; b++ {
			k0 := o*m.C + b*Q9Block
			scales[k0/Q9Block] = quantizeBlock(codes, m.Data[k0:k0+Q9Block], 255, -256)
			for k, q := range codes {
				i := k0 + k
				hi[i] = int8(q >> 1)
				lo[i>>3] |= uint8(q&1) << (i & 7)
			}
		}
	}
	return NewQ9(m.R, m.C, hi, lo, scales)
}

// QuantizeMSE converts an F32 matrix to Q8 as QuantizeQ9 does: float16
// scales chosen per block to minimise the squared error.
func QuantizeMSE(m *F32) *Q8 {
	q := make([]int8, m.R*m.C)
	scales := make([]float32, m.R*m.C/Q8Block)
	codes := make([]int32, Q8Block)
	for i := 0; i < len(q); i += Q8Block {
		scales[i/Q8Block] = quantizeBlock(codes, m.Data[i:i+Q8Block], 127, -128)
		for k, c := range codes {
			q[i+k] = int8(c)
		}
	}
	return NewQ8(m.R, m.C, q, scales)
}

// quantizeBlock writes w's codes in [lo, top] and returns their scale: among
// float16 scales amax·f/top for f = 0.80, 0.81, …, 1.00, the one with the
// least squared error (the first on ties). Float16 scales let a file store
// them in two bytes and a reader recover exactly the scale used here.
func quantizeBlock(codes []int32, w []float32, top, lo int32) float32 {
	var amax float32
	for _, v := range w {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	if amax == 0 {
		clear(codes)
		return 0
	}
	best, bestErr := float32(0), math.Inf(1)
	for step := 0; step <= 20; step++ {
		s := RoundF16(amax * float32(80+step) / 100 / float32(top))
		if s == 0 {
			continue
		}
		var sse float64
		for _, v := range w {
			q := clampRound(v/s, lo, top)
			d := float64(s*float32(q) - v)
			sse += d * d
		}
		if sse < bestErr {
			best, bestErr = s, sse
		}
	}
	if best == 0 { // every candidate scale is below float16's range
		clear(codes)
		return 0
	}
	for k, v := range w {
		codes[k] = clampRound(v/best, lo, top)
	}
	return best
}

func clampRound(x float32, lo, top int32) int32 {
	q := int32(math.Round(float64(x)))
	return min(max(q, lo), top)
}

// RoundF16 rounds x to the nearest float16 value (ties to even), returned as
// float32; values beyond float16's range become ±Inf.
func RoundF16(x float32) float32 {
	return F16ToF32(F32ToF16(x))
}

// F32ToF16 converts to IEEE binary16 bits, rounding to nearest even.
func F32ToF16(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 31: // overflow or Inf
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is still correct
	}
	return sign | uint16(half)
}

// F16ToF32 converts IEEE binary16 bits to float32 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h >> 10 & 0x1f)
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		return float32(math.Copysign(float64(mant)*math.Pow(2, -24), float64(int32(sign)>>31|1)))
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
