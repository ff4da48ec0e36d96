package fetch

import (
	"fmt"

	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/weights"
)

// blockTensors are the tensors of each block h.{i} of a GPT-2 checkpoint.
var blockTensors = []string{
	"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
	"ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
}

// checkCheckpoint checks, from its header, that path is a safetensors file
// holding GPT-2's tensors, its data all present.
func checkCheckpoint(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := weights.ConfigFromShapes(f, nil)
	if err != nil {
		return err
	}
	names := []string{"ln_f.weight", "ln_f.bias"}
	for i := range c.Layers {
		for _, n := range blockTensors {
			names = append(names, fmt.Sprintf("h.%d.%s", i, n))
		}
	}
	for _, n := range names {
		_, plain := f.Tensors[n]
		_, prefixed := f.Tensors["transformer."+n]
		if !plain && !prefixed {
			return fmt.Errorf("%s: no tensor %q: not a GPT-2 checkpoint", path, n)
		}
	}
	return nil
}
