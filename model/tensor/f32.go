package tensor

// F32 is a float32 Matrix.
type F32 struct {
	R, C int
	Data []float32 // [R][C]
}

// NewF32 wraps data ([rows][cols], row-major) without copying.
func NewF32(rows, cols int, data []float32) *F32 {
	if len(data) != rows*cols {
		panic("tensor: NewF32: data length does not match shape")
	}
	return &F32{R: rows, C: cols, Data: data}
}

func (m *F32) Rows() int                { return m.R }
func (m *F32) Cols() int                { return m.C }
func (m *F32) Bytes() int64             { return int64(len(m.Data)) * 4 }
func (m *F32) Row(dst []float32, r int) { copy(dst[:m.C], m.Data[r*m.C:(r+1)*m.C]) }

func (m *F32) MulT(y, x []float32, n int) {
	for i := 0; i < n; i++ {
		xi := x[i*m.C : (i+1)*m.C]
		yi := y[i*m.R : (i+1)*m.R]
		for o := 0; o < m.R; o++ {
			yi[o] = dot(xi, m.Data[o*m.C:(o+1)*m.C])
		}
	}
}

func (m *F32) MulTRows(y, x []float32, n int, rows []int) {
	for i := 0; i < n; i++ {
		xi := x[i*m.C : (i+1)*m.C]
		for j, o := range rows {
			y[i*len(rows)+j] = dot(xi, m.Data[o*m.C:(o+1)*m.C])
		}
	}
}

func dot(a, b []float32) float32 {
	var s float32
	for k := range a {
		s += a[k] * b[k]
	}
	return s
}
