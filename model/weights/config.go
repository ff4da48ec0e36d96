package weights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
)

// ConfigFromShapes infers the configuration of checkpoint f: layers, width,
// context and vocabulary from the tensor shapes; heads from configJSON (a
// Hugging Face config.json, may be nil) or else width/64. Only the header is
// read. Values that configJSON states must agree with the shapes.
func ConfigFromShapes(f *safetensors.File, configJSON []byte) (gpt2.Config, error) {
	names, err := canonicalNames(f)
	if err != nil {
		return gpt2.Config{}, err
	}
	return configFrom(f, names, configJSON)
}

func configFrom(f *safetensors.File, names map[string]string, configJSON []byte) (gpt2.Config, error) {
	wte, err := matrixShape(f, names, "wte.weight")
	if err != nil {
		return gpt2.Config{}, err
	}
	wpe, err := matrixShape(f, names, "wpe.weight")
	if err != nil {
		return gpt2.Config{}, err
	}
	if wpe[1] != wte[1] {
		return gpt2.Config{}, errorf(f, "wte.weight is %v but wpe.weight is %v: the widths differ (not a GPT-2 checkpoint?)", wte, wpe)
	}
	layers, err := countLayers(f, names)
	if err != nil {
		return gpt2.Config{}, err
	}
	c := gpt2.Config{Layers: layers, Width: wte[1], Context: wpe[0], Vocab: wte[0]}
	if c.Heads, err = heads(c, configJSON); err != nil {
		return gpt2.Config{}, errorf(f, "%v", err)
	}
	return c, nil
}

func matrixShape(f *safetensors.File, names map[string]string, name string) ([]int, error) {
	t, ok := f.Tensors[names[name]]
	if !ok {
		return nil, errorf(f, "missing tensor %q (not a GPT-2 checkpoint?)", name)
	}
	if len(t.Shape) != 2 || t.Shape[0] < 1 || t.Shape[1] < 1 {
		return nil, errorf(f, "tensor %q has shape %v, want a non-empty matrix", t.Name, t.Shape)
	}
	return t.Shape, nil
}

// countLayers counts the blocks h.0 … h.N-1, refusing gaps in the numbering.
func countLayers(f *safetensors.File, names map[string]string) (int, error) {
	seen := map[int]bool{}
	for c := range names {
		if i, _, ok := splitLayer(c); ok {
			seen[i] = true
		}
	}
	if len(seen) == 0 {
		return 0, errorf(f, "no transformer blocks (h.0.*): not a GPT-2 checkpoint")
	}
	for i := range len(seen) {
		if !seen[i] {
			return 0, errorf(f, "no tensors for layer %d (h.%d.*), though a later layer has some", i, i)
		}
	}
	return len(seen), nil
}

// What model/gpt2 computes: GPT-2's tanh approximation of GELU (Hugging
// Face's "gelu_new") and LayerNorm with ε = 1e-5.
const (
	gptActivation   = "gelu_new"
	gptLayerNormEps = 1e-5
)

// heads takes n_head from configJSON after checking that the rest of it
// agrees with the shapes in c and with the GPT-2 that patchlab runs; without
// it, GPT-2's 64-wide heads. Each error names the rule that failed.
func heads(c gpt2.Config, configJSON []byte) (int, error) {
	var hf struct {
		ModelType  *string  `json:"model_type"`
		Layers     *int     `json:"n_layer"`
		Heads      *int     `json:"n_head"`
		Width      *int     `json:"n_embd"`
		Positions  *int     `json:"n_positions"`
		Ctx        *int     `json:"n_ctx"`
		Vocab      *int     `json:"vocab_size"`
		Activation *string  `json:"activation_function"`
		Eps        *float64 `json:"layer_norm_epsilon"`
	}
	if configJSON != nil {
		if trimmed := bytes.TrimSpace(configJSON); len(trimmed) == 0 || trimmed[0] != '{' {
			return 0, errors.New("config.json: want a JSON object (such as Hugging Face's {\"n_head\": 12, …})")
		}
		if err := json.Unmarshal(configJSON, &hf); err != nil {
			return 0, fmt.Errorf("config.json: %v", err)
		}
	}
	if hf.ModelType != nil && *hf.ModelType != "gpt2" {
		return 0, fmt.Errorf("config.json: model_type is %q, not gpt2", *hf.ModelType)
	}
	for _, v := range []struct {
		key, what string
		stated    *int
		tensors   int
	}{{"n_layer", "layers (h.N.*)", hf.Layers, c.Layers}, {"n_embd", "columns in wte.weight", hf.Width, c.Width},
		{"n_positions", "rows in wpe.weight", hf.Positions, c.Context}, {"n_ctx", "rows in wpe.weight", hf.Ctx, c.Context},
		{"vocab_size", "rows in wte.weight", hf.Vocab, c.Vocab}} {
		if v.stated != nil && *v.stated != v.tensors {
			return 0, fmt.Errorf("config.json: %s is %d but the tensors say %d (%s): it must equal them", v.key, *v.stated, v.tensors, v.what)
		}
	}
	if a := hf.Activation; a != nil && *a != gptActivation {
		return 0, fmt.Errorf("config.json: activation_function is %q, but patchlab's GPT-2 computes %q only", *a, gptActivation)
	}
	if e := hf.Eps; e != nil && math.Abs(*e-gptLayerNormEps) > 1e-3*gptLayerNormEps {
		return 0, fmt.Errorf("config.json: layer_norm_epsilon is %g, but patchlab's GPT-2 computes with %g only", *e, gptLayerNormEps)
	}
	switch h := hf.Heads; {
	case h != nil && *h < 1:
		return 0, fmt.Errorf("config.json: n_head is %d: want at least 1", *h)
	case h != nil && c.Width%*h != 0:
		return 0, fmt.Errorf("config.json: n_head %d does not divide the width %d", *h, c.Width)
	case h != nil:
		return *h, nil
	case c.Width%64 != 0:
		return 0, fmt.Errorf("width %d is not a multiple of 64: give n_head in a config.json", c.Width)
	}
	return c.Width / 64, nil
}

// readConfigBeside reads the config.json in the directory of path, or
// returns nil if there is none.
func readConfigBeside(path string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return b, nil
}
