package weights

import (
	"fmt"
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
	return name == lmHead || ok && (rest == "attn.bias" || rest == "attn.masked_bias")
}

// lmHead is the unembedding that GPT2LMHeadModel saves, tied to wte: it is
// accepted only as an exact copy of wte (checked by checkTensors for its
// dtype and shape, by loader.tiedHead for its values).
const lmHead = "lm_head.weight"

// tiedHeadError is the one error for an lm_head.weight that is not wte.weight.
func tiedHeadError(f *safetensors.File, why string) error {
	return errorf(f, "%s holds %s than wte.weight: patchlab reads GPT-2, whose unembedding is wte.weight itself; remove %s from the checkpoint (if it is GPT-2) or use another model", lmHead, why, lmHead)
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
	if head, ok := f.Tensors[lmHead]; ok {
		if wte := f.Tensors[names["wte.weight"]]; head.DType != wte.DType || !slices.Equal(head.Shape, wte.Shape) {
			return tiedHeadError(f, fmt.Sprintf("another dtype or shape (%s%v, not %s%v)", head.DType, head.Shape, wte.DType, wte.Shape))
		}
	}
	return nil
}
