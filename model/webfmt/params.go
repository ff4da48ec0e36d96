package webfmt

import (
	"fmt"
	"strings"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// kind is how a parameter is stored (see FORMAT.md and gpt2.(*Model).Quantize).
type kind int

const (
	vector kind = iota // f32 [rows]
	q9                 // block matrix: tensor.Q9 as i8 .weight, u8 .lowbits, f16 .scale
	q8                 // wte: tensor.Q8 as i8 .weight, f16 .scale
	f16                // wpe: F32 with float16 values, as f16 .weight
)

// param is one GPT-2 parameter under its Hugging Face name, with a pointer to
// the field of a gpt2.Model that holds it: a matrix (Rows×Cols, out-major)
// or a vector of Rows floats.
type param struct {
	name       string
	kind       kind
	rows, cols int
	mat        *tensor.Matrix
	vec        *[]float32
}

// params lists m's parameters in the order they are stored. m.Blocks must
// have m.Layers elements.
func params(m *gpt2.Model) []param {
	C := m.Width
	mat := func(name string, k kind, t *tensor.Matrix, rows, cols int) param {
		return param{name: name, kind: k, rows: rows, cols: cols, mat: t}
	}
	vec := func(name string, v *[]float32, n int) param {
		return param{name: name, kind: vector, rows: n, vec: v}
	}
	ps := []param{
		mat("wte.weight", q8, &m.WTE, m.Vocab, C),
		mat("wpe.weight", f16, &m.WPE, m.Context, C),
	}
	for i := range m.Blocks {
		b := &m.Blocks[i]
		p := fmt.Sprintf("h.%d.", i)
		ps = append(ps,
			vec(p+"ln_1.weight", &b.LN1G, C), vec(p+"ln_1.bias", &b.LN1B, C),
			mat(p+"attn.c_attn.weight", q9, &b.QKV, 3*C, C), vec(p+"attn.c_attn.bias", &b.QKVB, 3*C),
			mat(p+"attn.c_proj.weight", q9, &b.Proj, C, C), vec(p+"attn.c_proj.bias", &b.ProjB, C),
			vec(p+"ln_2.weight", &b.LN2G, C), vec(p+"ln_2.bias", &b.LN2B, C),
			mat(p+"mlp.c_fc.weight", q9, &b.FC, 4*C, C), vec(p+"mlp.c_fc.bias", &b.FCB, 4*C),
			mat(p+"mlp.c_proj.weight", q9, &b.FCProj, C, 4*C), vec(p+"mlp.c_proj.bias", &b.FCProjB, C),
		)
	}
	return append(ps, vec("ln_f.weight", &m.LNFG, C), vec("ln_f.bias", &m.LNFB, C))
}

// emptyModel is a model of configuration c with no parameters, whose
// fields params can point into.
func emptyModel(c gpt2.Config) *gpt2.Model {
	return &gpt2.Model{Config: c, Blocks: make([]gpt2.Block, c.Layers)}
}

// scaleName is the name of the scales tensor of the matrix called name
// ("h.0.mlp.c_fc.weight" → "h.0.mlp.c_fc.scale").
func scaleName(name string) string { return strings.TrimSuffix(name, ".weight") + ".scale" }

// lowBitsName is the name of the low-bit plane of the Q9 matrix called name
// ("h.0.mlp.c_fc.weight" → "h.0.mlp.c_fc.lowbits").
func lowBitsName(name string) string { return strings.TrimSuffix(name, ".weight") + ".lowbits" }

// stored lists the tensors that hold p, in the order they are stored.
// Parts are not set.
func (p param) stored() []Tensor {
	switch p.kind {
	case q9:
		return []Tensor{
			{Name: p.name, DType: "i8", Shape: []int{p.rows, p.cols}},
			{Name: lowBitsName(p.name), DType: "u8", Shape: []int{p.rows, p.cols / 8}},
			{Name: scaleName(p.name), DType: "f16", Shape: []int{p.rows, p.cols / tensor.Q9Block}},
		}
	case q8:
		return []Tensor{
			{Name: p.name, DType: "i8", Shape: []int{p.rows, p.cols}},
			{Name: scaleName(p.name), DType: "f16", Shape: []int{p.rows, p.cols / tensor.Q8Block}},
		}
	case f16:
		return []Tensor{{Name: p.name, DType: "f16", Shape: []int{p.rows, p.cols}}}
	}
	return []Tensor{{Name: p.name, DType: "f32", Shape: []int{p.rows}}}
}

// storedTensors lists, in order, the tensors of a model of configuration c.
func storedTensors(c gpt2.Config) []Tensor {
	var ts []Tensor
	for _, p := range params(emptyModel(c)) {
		ts = append(ts, p.stored()...)
	}
	return ts
}
