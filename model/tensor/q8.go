package tensor

import "math"

// Q8Block is the number of consecutive weights along a row that share one scale.
const Q8Block = 32

// Q8 is an int8 Matrix with one float32 scale per Q8Block weights along each
// row (like ggml's Q8_0): M[o][k] = Scales[o][k/Q8Block] · Q[o][k].
// Cols must be a multiple of Q8Block.
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
	nb := m.C / Q8Block
	for b := 0; b < nb; b++ {
		s := m.Scales[r*nb+b]
		for k := 0; k < Q8Block; k++ {
			dst[b*Q8Block+k] = s * float32(m.Q[r*m.C+b*Q8Block+k])
		}
	}
}

func (m *Q8) MulT(y, x []float32, n int) {
	for i := 0; i < n; i++ {
		for o := 0; o < m.R; o++ {
			y[i*m.R+o] = m.dotRow(x[i*m.C:(i+1)*m.C], o)
		}
	}
}

func (m *Q8) MulTRows(y, x []float32, n int, rows []int) {
	for i := 0; i < n; i++ {
		for j, o := range rows {
			y[i*len(rows)+j] = m.dotRow(x[i*m.C:(i+1)*m.C], o)
		}
	}
}

func (m *Q8) dotRow(x []float32, o int) float32 {
	nb := m.C / Q8Block
	var s float32
	for b := 0; b < nb; b++ {
		var acc float32
		q := m.Q[o*m.C+b*Q8Block : o*m.C+(b+1)*Q8Block]
		for k, v := range q {
			acc += x[b*Q8Block+k] * float32(v)
		}
		s += acc * m.Scales[o*nb+b]
	}
	return s
}
