// Package weights loads GPT-2 checkpoints into gpt2.Model.
package weights

import (
	"fmt"
	"math"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/tensor"
)

// LoadSafetensors loads a Hugging Face GPT-2 checkpoint (F32, F16, BF16 or
// F64). The number of heads comes from a config.json beside the file when
// there is one, else width/64.
func LoadSafetensors(path string) (*gpt2.Model, error) {
	configJSON, err := readConfigBeside(path)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return FromSafetensors(f, configJSON)
}

// Check reads only the header of checkpoint f and checks that it is a GPT-2
// checkpoint: its configuration (as ConfigFromShapes) and every tensor's
// presence, shape and dtype, as FromSafetensors would. The error names the file.
func Check(f *safetensors.File, configJSON []byte) (gpt2.Config, error) {
	names, err := canonicalNames(f)
	if err != nil {
		return gpt2.Config{}, err
	}
	cfg, err := configFrom(f, names, configJSON)
	if err != nil {
		return gpt2.Config{}, err
	}
	return cfg, checkTensors(f, names, cfg)
}

// FromSafetensors builds a model from a parsed checkpoint and the contents of
// its config.json (nil if there is none). Tensors are converted one at a
// time, so peak memory is the model plus one weight matrix.
func FromSafetensors(f *safetensors.File, configJSON []byte) (*gpt2.Model, error) {
	r, err := NewReader(f, configJSON)
	if err != nil {
		return nil, err
	}
	m := &gpt2.Model{Config: r.Config, Blocks: make([]gpt2.Block, r.Config.Layers)}
	for _, p := range r.Config.Params() {
		mat, vec, err := r.Param(p)
		if err != nil {
			return nil, err
		}
		if p.Matrix {
			*p.Mat(m) = mat
		} else {
			*p.Vec(m) = vec
		}
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("weights: %s: %w", f.Path, err)
	}
	return m, nil
}

// Reader reads a checkpoint's parameters one at a time, for those who
// convert them as they go rather than hold the float32 model.
type Reader struct {
	Config gpt2.Config
	l      loader
}

// NewReader checks checkpoint f as Check does and returns its reader.
func NewReader(f *safetensors.File, configJSON []byte) (*Reader, error) {
	cfg, err := Check(f, configJSON)
	if err != nil {
		return nil, err
	}
	names, _ := canonicalNames(f) // Check has read them
	return &Reader{Config: cfg, l: loader{f: f, names: names}}, nil
}

// Param reads parameter p (one of r.Config.Params()) as FromSafetensors
// stores it: a float32 matrix, out-major, or a vector; every value finite.
func (r *Reader) Param(p gpt2.Param) (tensor.Matrix, []float32, error) {
	switch {
	case p.Conv1D:
		m, err := r.l.conv1D(p)
		return m, nil, err
	case p.Matrix:
		m, err := r.l.matrix(p)
		return m, nil, err
	}
	v, err := r.l.vector(p.Name)
	return nil, v, err
}

// loader reads tensors by canonical name.
type loader struct {
	f       *safetensors.File
	names   map[string]string // canonical name → name in the file
	scratch []float32         // reused for Conv1D weights before transposition
}

func (l *loader) vector(name string) ([]float32, error) {
	v, err := l.f.Float32(l.names[name])
	if err != nil {
		return nil, err
	}
	if err := l.inRange(name, v); err != nil {
		return nil, err
	}
	if name == "wte.weight" {
		return v, l.tiedHead(v)
	}
	return v, nil
}

// tiedHead checks that an lm_head.weight, if the file has one, equals wte.
func (l *loader) tiedHead(wte []float32) error {
	if _, ok := l.f.Tensors[lmHead]; !ok {
		return nil
	}
	head, err := l.f.Float32(lmHead)
	if err != nil {
		return err
	}
	for i := range head {
		if head[i] != wte[i] { // a NaN differs too
			return tiedHeadError(l.f, fmt.Sprintf("other values (%g, not %g, at element %d)", head[i], wte[i], i))
		}
	}
	return nil
}

// matrix loads a matrix already stored out-major (wte, wpe).
func (l *loader) matrix(p gpt2.Param) (tensor.Matrix, error) {
	v, err := l.vector(p.Name)
	if err != nil {
		return nil, err
	}
	return tensor.NewF32(p.Shape[0], p.Shape[1], v), nil
}

// conv1D loads a Conv1D weight, stored [in, out], as an out-major matrix.
func (l *loader) conv1D(p gpt2.Param) (tensor.Matrix, error) {
	out, in := p.Shape[0], p.Shape[1]
	if cap(l.scratch) < in*out {
		l.scratch = make([]float32, in*out)
	}
	src := l.scratch[:in*out]
	if err := l.f.ReadFloat32(l.names[p.Name], src); err != nil {
		return nil, err
	}
	if err := l.inRange(p.Name, src); err != nil {
		return nil, err
	}
	return tensor.NewF32(out, in, transpose(src, in, out)), nil
}

// MaxWeight bounds every weight loaded, and so the weights the web format
// stores (a block's float16 step must hold max|w|/127, and float16 ends at
// 65504). GPT-2's largest are below 100.
const MaxWeight = 1e6

// inRange returns an error if v holds a NaN, an infinity or a value beyond
// MaxWeight: such a weight makes logits NaN (3e38 overflows the first sum),
// far from where the user could see why.
func (l *loader) inRange(name string, v []float32) error {
	for i, x := range v {
		if !(math.Abs(float64(x)) <= MaxWeight) {
			return errorf(l.f, "tensor %q holds %v at element %d, outside the range of a GPT-2 weight (finite, |w| ≤ %g): the checkpoint is damaged", name, x, i, MaxWeight)
		}
	}
	return nil
}

// transpose returns the cols×rows transpose of the rows×cols matrix src,
// tile by tile so that reads and writes both stay in cache.
func transpose(src []float32, rows, cols int) []float32 {
	const tile = 32
	dst := make([]float32, len(src))
	for r0 := 0; r0 < rows; r0 += tile {
		for c0 := 0; c0 < cols; c0 += tile {
			for r := r0; r < min(r0+tile, rows); r++ {
				for c := c0; c < min(c0+tile, cols); c++ {
					dst[c*rows+r] = src[r*cols+c]
				}
			}
		}
	}
	return dst
}

func errorf(f *safetensors.File, format string, args ...any) error {
	return fmt.Errorf("weights: %s: "+format, append([]any{f.Path}, args...)...)
}
