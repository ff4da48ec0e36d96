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

// MulT computes y = x·Mᵀ (see Matrix). Large products are split over the
// rows of M across goroutines; the result does not depend on n, on the other
// rows of x or on the split.
func (m *F32) MulT(y, x []float32, n int) {
	if !checkMul(m.R, m.C, len(m.Data), y, x, n, m.R) {
		return
	}
	forChunks(m.R, chunkRows(m.C, 4, m.R), n*m.R*m.C, func(lo, hi int) {
		mulF32(m, y, x, n, nil, lo, hi, m.R)
	})
}

// MulTRows is MulT restricted to the listed rows of M; each output equals
// the corresponding output of MulT bit for bit.
func (m *F32) MulTRows(y, x []float32, n int, rows []int) {
	if !checkMul(m.R, m.C, len(m.Data), y, x, n, len(rows)) {
		return
	}
	checkRows(rows, m.R)
	forChunks(len(rows), chunkRows(m.C, 4, len(rows)), n*len(rows)*m.C, func(lo, hi int) {
		mulF32(m, y, x, n, rows, lo, hi, len(rows))
	})
}

// checkMul validates the operands of a product with n input rows and ny
// outputs per row (the kernels read and write through raw pointers) and
// reports whether there is anything to compute.
func checkMul(rows, cols, size int, y, x []float32, n, ny int) bool {
	if size < rows*cols {
		panic("tensor: matrix data shorter than its shape")
	}
	if n < 0 || len(x) < n*cols || len(y) < n*ny {
		panic("tensor: MulT: x or y too short")
	}
	if n == 0 || ny == 0 {
		return false
	}
	if cols == 0 {
		clear(y[:n*ny])
		return false
	}
	return true
}

func checkRows(rows []int, n int) {
	for _, o := range rows {
		if o < 0 || o >= n {
			panic("tensor: MulTRows: row out of range")
		}
	}
}
