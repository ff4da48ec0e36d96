package gpt2

import (
	"fmt"

	"github.com/patchlab/patchlab/model/tensor"
)

// Param is one parameter of a GPT-2 model as checkpoints name it.
type Param struct {
	Name   string // Hugging Face name without the "transformer." prefix, e.g. "h.3.mlp.c_fc.weight"
	Shape  []int  // as the Model holds it: matrices out-major [out, in]; vectors [n]
	Conv1D bool   // a block matrix, stored transposed ([in, out]) in Hugging Face checkpoints
	Matrix bool   // a weight matrix (tensor.Matrix) rather than a vector

	mat func(*Model) *tensor.Matrix // set for a matrix
	vec func(*Model) *[]float32     // set for a vector
}

// Mat returns the field of m that holds p, a matrix. m.Blocks must have
// the configuration's number of layers.
func (p Param) Mat(m *Model) *tensor.Matrix { return p.mat(m) }

// Vec returns the field of m that holds p, a vector. m.Blocks must have
// the configuration's number of layers.
func (p Param) Vec(m *Model) *[]float32 { return p.vec(m) }

// CheckpointShape is p's shape in a Hugging Face checkpoint: Shape, but
// [in, out] for a Conv1D weight.
func (p Param) CheckpointShape() []int {
	if p.Conv1D {
		return []int{p.Shape[1], p.Shape[0]}
	}
	return p.Shape
}

// Params lists the parameters of a model of configuration c in checkpoint
// order: wte, wpe, the blocks h.0 … h.{Layers-1}, ln_f.
func (c Config) Params() []Param {
	C := c.Width
	ps := []Param{
		matrix("wte.weight", c.Vocab, C, func(m *Model) *tensor.Matrix { return &m.WTE }),
		matrix("wpe.weight", c.Context, C, func(m *Model) *tensor.Matrix { return &m.WPE }),
	}
	for i := range c.Layers {
		name := func(s string) string { return fmt.Sprintf("h.%d.%s", i, s) }
		vec := func(s string, n int, f func(*Block) *[]float32) Param {
			return vector(name(s), n, func(m *Model) *[]float32 { return f(&m.Blocks[i]) })
		}
		conv1D := func(s string, out, in int, f func(*Block) *tensor.Matrix) Param {
			p := matrix(name(s), out, in, func(m *Model) *tensor.Matrix { return f(&m.Blocks[i]) })
			p.Conv1D = true
			return p
		}
		ps = append(ps,
			vec("ln_1.weight", C, func(b *Block) *[]float32 { return &b.LN1G }),
			vec("ln_1.bias", C, func(b *Block) *[]float32 { return &b.LN1B }),
			conv1D("attn.c_attn.weight", 3*C, C, func(b *Block) *tensor.Matrix { return &b.QKV }),
			vec("attn.c_attn.bias", 3*C, func(b *Block) *[]float32 { return &b.QKVB }),
			conv1D("attn.c_proj.weight", C, C, func(b *Block) *tensor.Matrix { return &b.Proj }),
			vec("attn.c_proj.bias", C, func(b *Block) *[]float32 { return &b.ProjB }),
			vec("ln_2.weight", C, func(b *Block) *[]float32 { return &b.LN2G }),
			vec("ln_2.bias", C, func(b *Block) *[]float32 { return &b.LN2B }),
			conv1D("mlp.c_fc.weight", 4*C, C, func(b *Block) *tensor.Matrix { return &b.FC }),
			vec("mlp.c_fc.bias", 4*C, func(b *Block) *[]float32 { return &b.FCB }),
			conv1D("mlp.c_proj.weight", C, 4*C, func(b *Block) *tensor.Matrix { return &b.FCProj }),
			vec("mlp.c_proj.bias", C, func(b *Block) *[]float32 { return &b.FCProjB }),
		)
	}
	return append(ps,
		vector("ln_f.weight", C, func(m *Model) *[]float32 { return &m.LNFG }),
		vector("ln_f.bias", C, func(m *Model) *[]float32 { return &m.LNFB }),
	)
}

func matrix(name string, rows, cols int, f func(*Model) *tensor.Matrix) Param {
	return Param{Name: name, Shape: []int{rows, cols}, Matrix: true, mat: f}
}

func vector(name string, n int, f func(*Model) *[]float32) Param {
	return Param{Name: name, Shape: []int{n}, vec: f}
}
