package main

import (
	"sync/atomic"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// countedMatrix is a tensor.Matrix that counts the multiply-adds of its
// products: rows × cols × n per MulT, len(rows) × cols × n per MulTRows.
type countedMatrix struct {
	tensor.Matrix
	macs *atomic.Int64
}

func (c countedMatrix) MulT(y, x []float32, n int) {
	c.macs.Add(int64(c.Rows()) * int64(c.Cols()) * int64(n))
	c.Matrix.MulT(y, x, n)
}

func (c countedMatrix) MulTRows(y, x []float32, n int, rows []int) {
	c.macs.Add(int64(len(rows)) * int64(c.Cols()) * int64(n))
	c.Matrix.MulTRows(y, x, n, rows)
}

// countMACs returns a copy of m (sharing its weights) whose every matrix
// counts its multiply-adds into the returned counter. Attention's own
// products (scores and the weighted sum of values) are not counted.
func countMACs(m *gpt2.Model) (*gpt2.Model, *atomic.Int64) {
	macs := new(atomic.Int64)
	wrap := func(t tensor.Matrix) tensor.Matrix { return countedMatrix{t, macs} }
	out := *m
	out.WTE, out.WPE = wrap(m.WTE), wrap(m.WPE)
	out.Blocks = make([]gpt2.Block, len(m.Blocks))
	for i, b := range m.Blocks {
		b.QKV, b.Proj, b.FC, b.FCProj = wrap(b.QKV), wrap(b.Proj), wrap(b.FC), wrap(b.FCProj)
		out.Blocks[i] = b
	}
	return &out, macs
}
