package webfmt

import (
	"fmt"
	"strings"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// param is one GPT-2 parameter under its Hugging Face name, with a pointer to
// the field of a gpt2.Model that holds it: a matrix (Rows×Cols, out-major)
// or a vector of Rows floats.
type param struct {
	name       string
	rows, cols int
	mat        *tensor.Matrix
	vec        *[]float32
}

// params lists m's parameters in the order they are stored. m.Blocks must
// have m.Layers elements.
func params(m *gpt2.Model) []param {
	C := m.Width
	mat := func(name string, t *tensor.Matrix, rows, cols int) param {
		return param{name: name, rows: rows, cols: cols, mat: t}
	}
	vec := func(name string, v *[]float32, n int) param {
		return param{name: name, rows: n, vec: v}
	}
	ps := []param{
		mat("wte.weight", &m.WTE, m.Vocab, C),
		mat("wpe.weight", &m.WPE, m.Context, C),
	}
	for i := range m.Blocks {
		b := &m.Blocks[i]
		p := fmt.Sprintf("h.%d.", i)
		ps = append(ps,
			vec(p+"ln_1.weight", &b.LN1G, C), vec(p+"ln_1.bias", &b.LN1B, C),
			mat(p+"attn.c_attn.weight", &b.QKV, 3*C, C), vec(p+"attn.c_attn.bias", &b.QKVB, 3*C),
			mat(p+"attn.c_proj.weight", &b.Proj, C, C), vec(p+"attn.c_proj.bias", &b.ProjB, C),
			vec(p+"ln_2.weight", &b.LN2G, C), vec(p+"ln_2.bias", &b.LN2B, C),
			mat(p+"mlp.c_fc.weight", &b.FC, 4*C, C), vec(p+"mlp.c_fc.bias", &b.FCB, 4*C),
			mat(p+"mlp.c_proj.weight", &b.FCProj, C, 4*C), vec(p+"mlp.c_proj.bias", &b.FCProjB, C),
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

// stored lists the tensors that hold p: for a matrix its int8 values and
// its scales, for a vector the vector itself. Parts are not set.
func (p param) stored() []Tensor {
	if p.mat == nil {
		return []Tensor{{Name: p.name, DType: "f32", Shape: []int{p.rows}}}
	}
	return []Tensor{
		{Name: p.name, DType: "i8", Shape: []int{p.rows, p.cols}},
		{Name: scaleName(p.name), DType: "f32", Shape: []int{p.rows, p.cols / tensor.Q8Block}},
	}
}

// storedTensors lists, in order, the tensors of a model of configuration c.
func storedTensors(c gpt2.Config) []Tensor {
	var ts []Tensor
	for _, p := range params(emptyModel(c)) {
		ts = append(ts, p.stored()...)
	}
	return ts
}
