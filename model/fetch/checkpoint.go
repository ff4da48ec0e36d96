package fetch

import (
	"fmt"

	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/weights"
)

// checkCheckpoint checks, from its header, that path is a safetensors file
// holding GPT-2's tensors with their shapes, its data all present. The heads
// do not change any shape, so no config.json is needed yet.
func checkCheckpoint(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := weights.Check(f, nil); err != nil {
		return fmt.Errorf("%w: not a GPT-2 checkpoint", err)
	}
	return nil
}
