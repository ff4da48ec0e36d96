package tensor

import "sync"

// MulN computes y = x·M, the product MulT's gradient goes through:
// y[i][k] = Σ_o x[i][o]·M[o][k] for i < n; x is n×Rows, y is n×Cols (both
// row-major; y is overwritten).
//
// Summation order: each output is the plain sequential sum over
// o = 0, 1, …, Rows−1, starting from zero, each product rounded to float32
// before it is added (Axpy's arithmetic). Every path and build (SIMD or
// not, any n, any number of threads) gives the same bits.
//
// The columns are cut into slices that threads take; within a slice 4
// weight rows at a time are dequantised and added to every input row's
// outputs, so each output is loaded and stored once per 4 weight rows.
func MulN(y, x []float32, n int, m Matrix) {
	R, C := m.Rows(), m.Cols()
	if n < 0 || len(x) < n*R || len(y) < n*C {
		panic("tensor: MulN: x or y too short")
	}
	y = y[:n*C]
	clear(y)
	if n == 0 || R == 0 || C == 0 {
		return
	}
	forChunks(C, mulNCols(C, n), n*R*C, func(c0, c1 int) {
		p := scratchQN.Get().(*[]float32)
		defer scratchQN.Put(p)
		w := slices4(p, c1-c0)
		o := 0
		for ; o+4 <= R; o += 4 {
			for r := range w {
				w[r] = colsOf(m, w[r], o+r, c0, c1)
			}
			for i := 0; i < n; i++ {
				a := x[i*R+o : i*R+o+4 : i*R+o+4]
				axpy4(y[i*C+c0:i*C+c1], &w, a[0], a[1], a[2], a[3])
			}
		}
		for ; o < R; o++ {
			w[0] = colsOf(m, w[0], o, c0, c1)
			for i := 0; i < n; i++ {
				axpy(x[i*R+o], w[0], y[i*C+c0:i*C+c1])
			}
		}
	})
}

// mulNCols is the width of one column slice of MulN: a multiple of QNBlock
// (whole blocks of a QN row) such that the slice's n rows of outputs stay
// within 64 KB (L1 or near), and narrow enough to give every thread two
// slices.
func mulNCols(C, n int) int {
	w := max(QNBlock, (1<<14/n)&^(QNBlock-1))
	if p := threads(); p > 1 {
		w = min(w, max(QNBlock, (C/(2*p)+QNBlock-1)&^(QNBlock-1)))
	}
	return w
}

// slices4 cuts 4 slices of width floats from the scratch *p (grown as
// needed).
func slices4(p *[]float32, width int) (w [4][]float32) {
	if len(*p) < 4*width {
		*p = make([]float32, 4*width)
	}
	for r := range w {
		w[r] = (*p)[r*width : (r+1)*width : (r+1)*width]
	}
	return w
}

// colsOf is columns [c0, c1) of row o of m: a view of an F32's data,
// otherwise dequantised into dst (as wide as the slice).
func colsOf(m Matrix, dst []float32, o, c0, c1 int) []float32 {
	switch m := m.(type) {
	case *F32:
		return m.Data[o*m.C+c0 : o*m.C+c1 : o*m.C+c1]
	case *QN:
		m.rowCols(dst, o, c0, c1)
		return dst
	}
	row := rowPool.Get().(*[]float32)
	defer rowPool.Put(row)
	if len(*row) < m.Cols() {
		*row = make([]float32, m.Cols())
	}
	m.Row(*row, o)
	copy(dst, (*row)[c0:c1])
	return dst
}

var rowPool = sync.Pool{New: func() any { return new([]float32) }}

// rowCols dequantises columns [c0, c1) of row r, whole blocks (c0 and c1
// multiples of QNBlock, or c1 = C), to dst.
func (m *QN) rowCols(dst []float32, r, c0, c1 int) {
	k, nb, C := m.Bits-8, m.C/QNBlock, m.C
	hi := m.Hi[r*C+c0 : r*C+c1]
	steps := m.Steps[r*nb+c0/QNBlock : r*nb+(c1+QNBlock-1)/QNBlock]
	var lo []uint8
	if k > 0 {
		lo = m.Lo[r*k*C/8+c0/8 : (r+1)*k*C/8]
	}
	dequant(dst[:c1-c0], hi, lo, C/8, steps, k)
}

// axpy4Go adds a0·w[0] + a1·w[1] + a2·w[2] + a3·w[3] to y, in that order,
// each product rounded: four Axpys, the outputs in L1 between them.
func axpy4Go(y []float32, w *[4][]float32, a0, a1, a2, a3 float32) {
	axpy(a0, w[0], y)
	axpy(a1, w[1], y)
	axpy(a2, w[2], y)
	axpy(a3, w[3], y)
}
