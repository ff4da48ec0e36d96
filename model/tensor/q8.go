package tensor

import "math"

// Q8Block is the number of consecutive weights along a row that share one scale.
const Q8Block = 32

// Q8 is an int8 Matrix with one float32 scale per Q8Block weights along each
// row (like ggml's Q8_0): M[o][k] = Scales[o][k/Q8Block] · Q[o][k].
// Cols must be a multiple of Q8Block.
//
// The kernels dequantise weights in registers, w = Scales·float32(Q) rounded
// to float32 exactly as Row does, and then sum exactly as F32 does, so MulT
// equals F32.MulT of the dequantised matrix bit for bit.
type Q8 struct {
	R, C   int
	Q      []int8    // [R][C]
	Scales []float32 // [R][C/Q8Block]
}

// NewQ8 wraps quantised data without copying.
func NewQ8(rows, cols int, q []int8, scales []float32) *Q8 {
	if cols%Q8Block != 0 || len(q) != rows*cols || len(scales) != rows*cols/Q8Block {
		panic("tensor: NewQ8: data length does not match shape")
	}
	return &Q8{R: rows, C: cols, Q: q, Scales: scales}
}

// QuantizeRow quantises one row of weights (len a multiple of Q8Block) into q
// and scales: each block's scale is max|w|/127, rounded to nearest.
func QuantizeRow(q []int8, scales []float32, w []float32) {
	for b := 0; b*Q8Block < len(w); b++ {
		blk := w[b*Q8Block : (b+1)*Q8Block]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		s := amax / 127
		scales[b] = s
		inv := float32(0)
		if s != 0 {
			inv = 1 / s
		}
		for k, v := range blk {
			q[b*Q8Block+k] = int8(math.Round(float64(v * inv)))
		}
	}
}

// Quantize converts an F32 matrix to Q8.
func Quantize(m *F32) *Q8 {
	q := make([]int8, m.R*m.C)
	s := make([]float32, m.R*m.C/Q8Block)
	nb := m.C / Q8Block
	for o := 0; o < m.R; o++ {
		QuantizeRow(q[o*m.C:(o+1)*m.C], s[o*nb:(o+1)*nb], m.Data[o*m.C:(o+1)*m.C])
	}
	return NewQ8(m.R, m.C, q, s)
}

func (m *Q8) Rows() int    { return m.R }
func (m *Q8) Cols() int    { return m.C }
func (m *Q8) Bytes() int64 { return int64(len(m.Q)) + 4*int64(len(m.Scales)) }

func (m *Q8) Row(dst []float32, r int) {
	dequantRow(dst[:m.C], m.Q[r*m.C:(r+1)*m.C], m.Scales[r*(m.C/Q8Block):])
}

// dequantRow writes scales[k/Q8Block]·q[k] to dst[k] for k < len(dst)
// (unrolled by 8 for js/wasm, where each loop iteration is expensive).
func dequantRow(dst []float32, q []int8, scales []float32) {
	q = q[:len(dst)]
	for k := 0; k+8 <= len(dst); k += 8 {
		s := scales[k/Q8Block]
		d := dst[k : k+8 : k+8]
		v := q[k : k+8 : k+8]
		d[0] = s * float32(v[0])
		d[1] = s * float32(v[1])
		d[2] = s * float32(v[2])
		d[3] = s * float32(v[3])
		d[4] = s * float32(v[4])
		d[5] = s * float32(v[5])
		d[6] = s * float32(v[6])
		d[7] = s * float32(v[7])
	}
}

// MulT computes y = x·Mᵀ (see Matrix and F32.MulT).
func (m *Q8) MulT(y, x []float32, n int) {
	m.check()
	if !checkMul(m.R, m.C, len(m.Q), y, x, n, m.R) {
		return
	}
	forChunks(m.R, chunkRows(m.C, 1.125, m.R), n*m.R*m.C, func(lo, hi int) {
		mulQ8(m, y, x, n, nil, lo, hi, m.R)
	})
}

// MulTRows is MulT restricted to the listed rows of M.
func (m *Q8) MulTRows(y, x []float32, n int, rows []int) {
	m.check()
	if !checkMul(m.R, m.C, len(m.Q), y, x, n, len(rows)) {
		return
	}
	checkRows(rows, m.R)
	forChunks(len(rows), chunkRows(m.C, 1.125, len(rows)), n*len(rows)*m.C, func(lo, hi int) {
		mulQ8(m, y, x, n, rows, lo, hi, len(rows))
	})
}

func (m *Q8) check() {
	if m.C%Q8Block != 0 || len(m.Scales) < m.R*m.C/Q8Block {
		panic("tensor: Q8: bad shape")
	}
}
