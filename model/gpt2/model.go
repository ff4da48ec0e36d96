// Package gpt2 is the GPT-2 forward pass with activation hooks.
package gpt2

import (
	"fmt"
	"math/rand/v2"

	"github.com/patchlab/patchlab/model/tensor"
)

// Config is the shape of a GPT-2 model.
type Config struct {
	Layers  int `json:"n_layer"`
	Heads   int `json:"n_head"`
	Width   int `json:"n_embd"`
	Context int `json:"n_ctx"`
	Vocab   int `json:"vocab_size"`
}

// HeadDim is the width of one attention head.
func (c Config) HeadDim() int { return c.Width / c.Heads }

// Small is GPT-2 small (the Hugging Face "gpt2" checkpoint).
var Small = Config{Layers: 12, Heads: 12, Width: 768, Context: 1024, Vocab: 50257}

// Block is one transformer block. Matrices are stored out-major (see
// tensor.Matrix): QKV is 3C×C, Proj C×C, FC 4C×C, FCProj C×4C.
type Block struct {
	LN1G, LN1B []float32
	QKV        tensor.Matrix
	QKVB       []float32
	Proj       tensor.Matrix
	ProjB      []float32
	LN2G, LN2B []float32
	FC         tensor.Matrix
	FCB        []float32
	FCProj     tensor.Matrix
	FCProjB    []float32
}

// Model is a GPT-2 model. WTE is Vocab×C and is also the unembedding.
type Model struct {
	Config
	WTE, WPE   tensor.Matrix
	Blocks     []Block
	LNFG, LNFB []float32
}

// Validate checks that every parameter has the shape the Config implies.
func (m *Model) Validate() error {
	c := m.Config
	if c.Layers < 1 || c.Heads < 1 || c.Width < 1 || c.Context < 1 || c.Vocab < 1 || c.Width%c.Heads != 0 {
		return fmt.Errorf("gpt2: invalid configuration %+v", c)
	}
	if len(m.Blocks) != c.Layers {
		return fmt.Errorf("gpt2: %d blocks, configuration says %d", len(m.Blocks), c.Layers)
	}
	for _, p := range c.Params() {
		if p.Matrix {
			rows, cols := p.Shape[0], p.Shape[1]
			if t := *p.Mat(m); t == nil || t.Rows() != rows || t.Cols() != cols {
				return fmt.Errorf("gpt2: %s: want %d×%d", p.Name, rows, cols)
			}
		} else if v := *p.Vec(m); len(v) != p.Shape[0] {
			return fmt.Errorf("gpt2: %s: length %d, want %d", p.Name, len(v), p.Shape[0])
		}
	}
	return nil
}

// Bytes is the memory held by the parameters.
func (m *Model) Bytes() int64 {
	var n int64
	for _, p := range m.Params() {
		if p.Matrix {
			n += (*p.Mat(m)).Bytes()
		} else {
			n += 4 * int64(len(*p.Vec(m)))
		}
	}
	return n
}

// Random builds a model with GPT-2's initialisation statistics: weights
// ~N(0, 0.02), position embeddings ~N(0, 0.01), LayerNorm gains 1, biases 0.
// It has the real cost of a trained model of the same shape.
func Random(c Config, seed uint64) *Model {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	normal := func(n int, std float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()) * std
		}
		return v
	}
	ones := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	C := c.Width
	mat := func(rows, cols int, std float32) tensor.Matrix {
		return tensor.NewF32(rows, cols, normal(rows*cols, std))
	}
	m := &Model{Config: c, WTE: mat(c.Vocab, C, 0.02), WPE: mat(c.Context, C, 0.01),
		LNFG: ones(C), LNFB: make([]float32, C)}
	for range c.Layers {
		m.Blocks = append(m.Blocks, Block{
			LN1G: ones(C), LN1B: make([]float32, C),
			QKV: mat(3*C, C, 0.02), QKVB: make([]float32, 3*C),
			Proj: mat(C, C, 0.02), ProjB: make([]float32, C),
			LN2G: ones(C), LN2B: make([]float32, C),
			FC: mat(4*C, C, 0.02), FCB: make([]float32, 4*C),
			FCProj: mat(C, 4*C, 0.02), FCProjB: make([]float32, C),
		})
	}
	return m
}
