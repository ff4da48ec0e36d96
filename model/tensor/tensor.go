// Package tensor holds the weight matrices of the model and the kernels that
// multiply by them. A Matrix is stored row-major as [Rows][Cols] and used as
// y = x·Mᵀ: each output feature is the dot product of an input row with one
// row of the matrix. This "out-major" layout keeps every dot product
// contiguous and lets a quantised matrix keep its scales along the input
// dimension (Cols), so F32 and quantised matrices share one interface.
package tensor

//go:generate go run asm_wasm_gen.go

// Matrix is a Rows×Cols weight matrix used as y = x·Mᵀ.
//
// Results must not depend on n or on which rows are requested: the output for
// one input row is computed in the same order whatever else is in the batch,
// so a batched computation equals an unbatched one bit for bit.
type Matrix interface {
	Rows() int
	Cols() int
	// Row writes row r of the matrix (dequantised) to dst[:Cols].
	Row(dst []float32, r int)
	// MulT computes y[i][o] = Σ_k x[i][k]·M[o][k] for i < n, o < Rows:
	// x is n×Cols, y is n×Rows, both row-major.
	MulT(y, x []float32, n int)
	// MulTRows is MulT restricted to the listed rows of M:
	// y[i][j] = Σ_k x[i][k]·M[rows[j]][k]; y is n×len(rows).
	MulTRows(y, x []float32, n int, rows []int)
	// Bytes is the memory the matrix holds.
	Bytes() int64
}
