package webfmt

import (
	"strings"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// kind is how a parameter is stored (see FORMAT.md and quant.go).
type kind int

const (
	vector kind = iota // f32 [rows]
	qn                 // wte and the block matrices: tensor.QN as i8 .weight, u8 .lowbits, f16 .scale
	f16                // wpe: F32 with float16 values, as f16 .weight
)

// param is a GPT-2 parameter and how it is stored.
type param struct {
	gpt2.Param
	kind kind
}

// params lists the parameters of a model of configuration c in the order
// they are stored: wte and the blocks' (Conv1D) matrices as QN, wpe as f16,
// the vectors as f32.
func params(c gpt2.Config) []param {
	var ps []param
	for _, p := range c.Params() {
		ps = append(ps, param{p, kindOf(p)})
	}
	return ps
}

// rows is the number of rows of a matrix parameter, the length of a vector.
func (p param) rows() int { return p.Shape[0] }

// cols is the number of columns of a matrix parameter.
func (p param) cols() int { return p.Shape[1] }

// scaleName is the name of the scales tensor of the matrix called name
// ("h.0.mlp.c_fc.weight" → "h.0.mlp.c_fc.scale").
func scaleName(name string) string { return strings.TrimSuffix(name, ".weight") + ".scale" }

// lowBitsName is the name of the low-bit planes of the QN matrix called name
// ("h.0.mlp.c_fc.weight" → "h.0.mlp.c_fc.lowbits").
func lowBitsName(name string) string { return strings.TrimSuffix(name, ".weight") + ".lowbits" }

// stored lists the tensors that hold p in a model whose block matrices have
// codes of the given width, in the order they are stored. Parts are not set.
func (p param) stored(bits int) []Tensor {
	if p.kind == vector {
		return []Tensor{{Name: p.Name, DType: "f32", Shape: []int{p.rows()}}}
	}
	rows, cols := p.rows(), p.cols()
	if p.kind == f16 {
		return []Tensor{{Name: p.Name, DType: "f16", Shape: []int{rows, cols}}}
	}
	ts := []Tensor{{Name: p.Name, DType: "i8", Shape: []int{rows, cols}}}
	if low := p.bits(bits) - 8; low > 0 {
		ts = append(ts, Tensor{Name: lowBitsName(p.Name), DType: "u8", Shape: []int{rows, low, cols / 8}})
	}
	return append(ts, Tensor{Name: scaleName(p.Name), DType: "f16", Shape: []int{rows, cols / tensor.QNBlock}})
}

// storedTensors lists, in order, the tensors of a model of configuration c
// whose block matrices have codes of the given width.
func storedTensors(c gpt2.Config, bits int) []Tensor {
	var ts []Tensor
	for _, p := range params(c) {
		ts = append(ts, p.stored(bits)...)
	}
	return ts
}
