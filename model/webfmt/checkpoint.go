package webfmt

import (
	"fmt"
	"slices"

	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/tensor"
)

// lookup finds a Hugging Face GPT-2 tensor, with or without the
// "transformer." prefix that GPT2LMHeadModel checkpoints use.
func lookup(f *safetensors.File, name string) (safetensors.Tensor, error) {
	for _, n := range []string{name, "transformer." + name} {
		if t, ok := f.Tensors[n]; ok {
			return t, nil
		}
	}
	return safetensors.Tensor{}, fmt.Errorf("webfmt: %s: no tensor %q", f.Path, name)
}

// checkpointSource reads parameters from a Hugging Face checkpoint, whose
// Conv1D weights are stored [in, out]: they are transposed to out-major.
// The embeddings wte and wpe are already [rows, width].
func checkpointSource(f *safetensors.File) source {
	return func(p param) (tensor.Matrix, []float32, error) {
		t, err := lookup(f, p.Name)
		if err != nil {
			return nil, nil, err
		}
		if want := p.CheckpointShape(); !slices.Equal(t.Shape, want) {
			return nil, nil, fmt.Errorf("webfmt: %s: tensor %s has shape %v, want %v", f.Path, t.Name, t.Shape, want)
		}
		v, err := f.Float32(t.Name)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case p.Conv1D:
			return tensor.NewF32(p.rows(), p.cols(), transpose(v, p.cols(), p.rows())), nil, nil
		case p.Matrix:
			return tensor.NewF32(p.rows(), p.cols(), v), nil, nil
		}
		return nil, v, nil
	}
}

// transpose returns the cols×rows transpose of the rows×cols matrix v.
func transpose(v []float32, rows, cols int) []float32 {
	t := make([]float32, len(v))
	for r := range rows {
		for c, x := range v[r*cols : (r+1)*cols] {
			t[c*rows+r] = x
		}
	}
	return t
}
