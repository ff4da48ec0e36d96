package weights

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
)

// canonicalNames maps each tensor's name without the "transformer." prefix
// to its name in the file, leaving out the attention-mask buffers and the
// lm_head tied to wte.
func canonicalNames(f *safetensors.File) (map[string]string, error) {
	names := map[string]string{}
	for _, name := range f.Names() {
		c := strings.TrimPrefix(name, "transformer.")
		if ignored(c) {
			continue
		}
		if other, dup := names[c]; dup {
			return nil, errorf(f, "holds both %q and %q", other, name)
		}
		names[c] = name
	}
	return names, nil
}

func ignored(name string) bool {
	_, rest, ok := splitLayer(name)
	return name == "lm_head.weight" || ok && (rest == "attn.bias" || rest == "attn.masked_bias")
}

// splitLayer splits "h.3.ln_1.weight" into 3 and "ln_1.weight".
func splitLayer(name string) (int, string, bool) {
	s, ok1 := strings.CutPrefix(name, "h.")
	num, rest, ok2 := strings.Cut(s, ".")
	i, err := strconv.Atoi(num)
	if !ok1 || !ok2 || err != nil || strconv.Itoa(i) != num || i < 0 {
		return 0, "", false
	}
	return i, rest, true
}

// checkTensors checks that f holds exactly the tensors of configuration c,
// with the right shapes and float dtypes, before anything is loaded.
func checkTensors(f *safetensors.File, names map[string]string, c gpt2.Config) error {
	known := map[string]bool{}
	for _, p := range c.Params() {
		name, ok := names[p.Name]
		if !ok {
			return errorf(f, "missing tensor %q (not a GPT-2 checkpoint?)", p.Name)
		}
		t := f.Tensors[name]
		if want := p.CheckpointShape(); !slices.Equal(t.Shape, want) {
			return errorf(f, "tensor %q has shape %v, want %v", name, t.Shape, want)
		}
		if !safetensors.IsFloat(t.DType) {
			return errorf(f, "tensor %q has dtype %s, want F32, F16, BF16 or F64", name, t.DType)
		}
		known[p.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if !known[name] {
			return errorf(f, "unexpected tensor %q: not part of GPT-2", names[name])
		}
	}
	return nil
}
