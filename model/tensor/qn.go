package tensor

import (
	"math"
	"runtime"
	"sync"
)

// QNBlock is the number of consecutive weights along a row of a QN matrix
// that share one scale.
const QNBlock = 64

// MinBits and MaxBits bound the code width of a QN matrix.
const MinBits, MaxBits = 8, 16

// QN is a Matrix of signed integer codes of Bits bits (8 to 16) with one
// float32 step per QNBlock weights along each row:
// M[o][k] = Steps[o][k/QNBlock] · q / 2^(Bits−8).
// A code is stored as planes so that the bulk stays one byte a weight: the
// high byte Hi[o][k] = q >> (Bits−8) (arithmetic), then Bits−8 planes of low
// bits, row by row: bit k%8 of Lo[o][j][k/8] is bit j of q. The step is the
// value of one unit of Hi, so its size does not depend on the width and a
// float16 holds it as well at 16 bits as at 8. Cols must be a multiple of
// QNBlock.
//
// Why wider than int8: on GPT-2-shaped random models, int8 codes move a
// patching heatmap by ~5% of its range and each extra bit halves that; the
// width is the converter's choice (see gpt2.(*Model).Quantize).
type QN struct {
	R, C, Bits int
	Hi         []int8    // [R][C]
	Lo         []uint8   // [R][Bits−8][C/8]
	Steps      []float32 // [R][C/QNBlock]
}

// NewQN wraps quantised data without copying.
func NewQN(rows, cols, bits int, hi []int8, lo []uint8, steps []float32) *QN {
	if bits < MinBits || bits > MaxBits || cols%QNBlock != 0 || len(hi) != rows*cols ||
		len(lo) != rows*(bits-8)*cols/8 || len(steps) != rows*cols/QNBlock {
		panic("tensor: NewQN: data length does not match shape")
	}
	return &QN{R: rows, C: cols, Bits: bits, Hi: hi, Lo: lo, Steps: steps}
}

func (m *QN) Rows() int    { return m.R }
func (m *QN) Cols() int    { return m.C }
func (m *QN) Bytes() int64 { return int64(len(m.Hi)+len(m.Lo)) + 4*int64(len(m.Steps)) }

func (m *QN) Row(dst []float32, r int) {
	k, nb, C := m.Bits-8, m.C/QNBlock, m.C
	hi, steps := m.Hi[r*C:(r+1)*C], m.Steps[r*nb:(r+1)*nb]
	lo := m.Lo[r*k*C/8 : (r+1)*k*C/8]
	dequant(dst[:C], hi, lo, C/8, steps, k)
}

// dequantGo writes the weights of one row (or of consecutive whole blocks of
// one), whose codes have k planes of low bits stride bytes apart, to dst.
func dequantGo(dst []float32, hi []int8, lo []uint8, stride int, steps []float32, k int) {
	switch k {
	case 0:
		dequant8(dst, hi, steps)
	case 1:
		dequant9(dst, hi, lo, steps)
	default:
		dequantN(dst, hi, lo, stride, steps, k)
	}
}

// dequant8 writes steps[k/QNBlock]·hi[k] to dst[k].
func dequant8(dst []float32, hi []int8, steps []float32) {
	for k := 0; k+8 <= len(dst); k += 8 {
		s := steps[k/QNBlock]
		d := dst[k : k+8 : k+8]
		h := hi[k : k+8 : k+8]
		d[0], d[1], d[2], d[3] = s*float32(h[0]), s*float32(h[1]), s*float32(h[2]), s*float32(h[3])
		d[4], d[5], d[6], d[7] = s*float32(h[4]), s*float32(h[5]), s*float32(h[6]), s*float32(h[7])
	}
}

// dequant9 writes steps[k/QNBlock]/2·(2·hi[k] + bit k of lo) to dst[k]
// (unrolled by the 8 codes of one lo byte; loop iterations are costly in wasm).
func dequant9(dst []float32, hi []int8, lo []uint8, steps []float32) {
	for k := 0; k+8 <= len(dst); k += 8 {
		s, b := steps[k/QNBlock]*0.5, int32(lo[k/8])
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

// dequantN is dequant9 for k ≥ 1 planes of low bits. Each plane's byte
// holds one bit of 8 codes; spread puts bit i of a byte into byte i of a
// word, so the low bits of 8 codes add up in one word, a byte each.
func dequantN(dst []float32, hi []int8, lo []uint8, stride int, steps []float32, k int) {
	n8 := len(dst) / 8
	inv := 1 / float32(int32(1)<<k)
	for g := 0; g < n8; g++ {
		var low uint64
		for j := 0; j < k; j++ {
			low |= spread[lo[j*stride+g]] << j
		}
		s := steps[g*8/QNBlock] * inv
		h := hi[g*8 : g*8+8 : g*8+8]
		d := dst[g*8 : g*8+8 : g*8+8]
		d[0] = s * float32(int32(h[0])<<k|int32(low&0xff))
		d[1] = s * float32(int32(h[1])<<k|int32(low>>8&0xff))
		d[2] = s * float32(int32(h[2])<<k|int32(low>>16&0xff))
		d[3] = s * float32(int32(h[3])<<k|int32(low>>24&0xff))
		d[4] = s * float32(int32(h[4])<<k|int32(low>>32&0xff))
		d[5] = s * float32(int32(h[5])<<k|int32(low>>40&0xff))
		d[6] = s * float32(int32(h[6])<<k|int32(low>>48&0xff))
		d[7] = s * float32(int32(h[7])<<k|int32(low>>56))
	}
}

// spread[b] has bit i of b in the lowest bit of byte i.
var spread = func() (t [256]uint64) {
	for b := range t {
		for i := range 8 {
			t[b] |= uint64(b>>i&1) << (8 * i)
		}
	}
	return t
}()

// MulT dequantises one cache-sized chunk of rows at a time into scratch and
// runs the F32 kernel on it, so MulT equals F32.MulT of the dequantised
// matrix bit for bit, batch-independent as F32 is, and the matrix is never
// inflated beyond one chunk.
func (m *QN) MulT(y, x []float32, n int) {
	if !checkMul(m.R, m.C, len(m.Hi), y, x, n, m.R) {
		return
	}
	forChunks(m.R, chunkRows(m.C, 4, m.R), n*m.R*m.C, func(lo, hi int) {
		m.mulChunk(y, x, n, nil, lo, hi, m.R)
	})
}

func (m *QN) MulTRows(y, x []float32, n int, rows []int) {
	if !checkMul(m.R, m.C, len(m.Hi), y, x, n, len(rows)) {
		return
	}
	checkRows(rows, m.R)
	forChunks(len(rows), chunkRows(m.C, 4, len(rows)), n*len(rows)*m.C, func(lo, hi int) {
		m.mulChunk(y, x, n, rows, lo, hi, len(rows))
	})
}

var scratchQN = sync.Pool{New: func() any { return new([]float32) }}

// qnGroupRows is how many rows mulChunk dequantises at a time before it
// multiplies them by every input row. In wasm a few rows, kept in L1 while
// all the input rows go past them, measure fastest; natively the whole
// chunk, which the assembly kernels take best in one call.
var qnGroupRows = map[bool]int{true: 4, false: 1 << 30}[runtime.GOARCH == "wasm"]

// mulChunk computes outputs [lo, hi) (of rows, or of all rows when nil).
func (m *QN) mulChunk(y, x []float32, n int, rows []int, lo, hi, ys int) {
	g := min(qnGroupRows, hi-lo)
	p := scratchQN.Get().(*[]float32)
	defer scratchQN.Put(p)
	if len(*p) < g*m.C {
		*p = make([]float32, g*m.C)
	}
	for j0 := lo; j0 < hi; j0 += g {
		j1 := min(j0+g, hi)
		w := &F32{R: j1 - j0, C: m.C, Data: (*p)[:(j1-j0)*m.C]}
		for j := j0; j < j1; j++ {
			o := j
			if rows != nil {
				o = rows[j]
			}
			m.Row(w.Data[(j-j0)*m.C:], o)
		}
		mulF32(w, y[j0:], x, n, nil, 0, j1-j0, ys)
	}
}

// QuantizeQN converts an F32 matrix to QN with codes of the given width,
// choosing each block's step (a float16 value) to minimise the block's
// squared error.
func QuantizeQN(m *F32, bits int) *QN {
	if bits < MinBits || bits > MaxBits {
		panic("tensor: QuantizeQN: width out of range")
	}
	k := bits - 8
	hi := make([]int8, m.R*m.C)
	lo := make([]uint8, m.R*k*m.C/8)
	steps := make([]float32, m.R*m.C/QNBlock)
	// Rows are independent; 25 candidate steps × a few operations a weight.
	Parallel(m.R, 64, 100*m.R*m.C, func(r0, r1 int) {
		codes := make([]int32, QNBlock)
		for o := r0; o < r1; o++ {
			plane := lo[o*k*m.C/8 : (o+1)*k*m.C/8]
			for b := 0; b < m.C/QNBlock; b++ {
				k0 := o*m.C + b*QNBlock
				steps[k0/QNBlock] = quantizeBlock(codes, m.Data[k0:k0+QNBlock], bits)
				for i, q := range codes {
					c := b*QNBlock + i // column
					hi[o*m.C+c] = int8(q >> k)
					for j := 0; j < k; j++ {
						plane[j*m.C/8+c/8] |= uint8(q>>j&1) << (c & 7)
					}
				}
			}
		}
	})
	return NewQN(m.R, m.C, bits, hi, lo, steps)
}

// quantizeBlock writes w's codes of the given width and returns the step,
// the value of one unit of the codes' high byte (so a weight is
// step·q/2^(bits−8)): among the float16 steps amax·f/top·2^(bits−8) for
// f = 0.80, 0.81, …, 1.00 (top the largest code), and the float16 just above
// f = 1 so that one candidate never clips, the one with the least squared
// error (the first on ties). Float16 steps let a file store them in two
// bytes and a reader recover exactly the step used here. Weights must be
// finite and small enough for a float16 step (|w| < 65504·0.8·top/2^(bits−8),
// 6.6 million at any width): a block with no candidate becomes zeros.
// Each product and difference is rounded to float32 explicitly, so that no
// platform fuses them (arm64 would) and every machine picks the same step.
func quantizeBlock(codes []int32, w []float32, bits int) float32 {
	top, lo := int32(1)<<(bits-1)-1, -int32(1)<<(bits-1)
	unit := float32(int32(1) << (bits - 8)) // codes per step; a power of two
	var amax float32
	for _, v := range w {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	if amax == 0 {
		clear(codes)
		return 0
	}
	best, bestErr := float32(0), math.Inf(1)
	try := func(step float32) {
		if step == 0 || math.IsInf(float64(step), 0) {
			return
		}
		s := step / unit
		var sse float64
		for _, v := range w {
			q := clampRound(v/s, lo, top)
			d := float64(float32(s*float32(q)) - v)
			sse += float64(d * d)
		}
		if sse < bestErr {
			best, bestErr = step, sse
		}
	}
	for f := 80; f <= 100; f++ {
		try(RoundF16(amax * float32(f) / 100 / float32(top) * unit))
	}
	try(nextF16Up(amax / float32(top) * unit))
	if best == 0 { // every candidate is outside float16's range
		clear(codes)
		return 0
	}
	s := best / unit
	for k, v := range w {
		codes[k] = clampRound(v/s, lo, top)
	}
	return best
}

// nextF16Up is the least float16 value ≥ x (x ≥ 0), as float32.
func nextF16Up(x float32) float32 {
	h := F32ToF16(x)
	if F16ToF32(h) < x {
		h++
	}
	return F16ToF32(h)
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
