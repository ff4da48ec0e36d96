package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
)

// corrupt writes a copy of the F32 fixture to dir/name after edit has
// changed its header (data_offsets stay relative, so the data still lines up).
func corrupt(t *testing.T, dir, name string, edit func(h map[string]map[string]any)) string {
	b, err := os.ReadFile(fixtures + "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	h, start := rawHeader(t, b)
	edit(h)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := append(binary.LittleEndian.AppendUint64(nil, uint64(len(js))), js...)
	return writeBytes(t, filepath.Join(dir, name), append(out, b[start:]...))
}

func writeBytes(t *testing.T, path string, b []byte) string {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadErrors(t *testing.T) {
	fixture, err := os.ReadFile(fixtures + "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	set := func(name, key string, v any) func(map[string]map[string]any) {
		return func(h map[string]map[string]any) { h[name][key] = v }
	}
	cases := []struct {
		name string
		make func(dir string) string
		want string
	}{
		{"truncated", func(dir string) string {
			return writeBytes(t, dir+"/truncated.safetensors", fixture[:len(fixture)/2])
		}, "past the end"},
		{"header cut", func(dir string) string {
			return writeBytes(t, dir+"/headercut.safetensors", fixture[:100])
		}, "truncated file"},
		{"huge header length", func(dir string) string {
			b := append([]byte{}, fixture...)
			binary.LittleEndian.PutUint64(b, 1<<50)
			return writeBytes(t, dir+"/huge.safetensors", b)
		}, "limit"},
		{"invalid json", func(dir string) string {
			b := bytes.Replace(fixture, []byte(`"data_offsets":`), []byte(`"data_offsets" `), 1)
			return writeBytes(t, dir+"/json.safetensors", b)
		}, "invalid header JSON"},
		{"unknown dtype", func(dir string) string {
			return corrupt(t, dir, "dtype.safetensors", set("h.0.ln_1.bias", "dtype", "F24"))
		}, `unknown dtype "F24"`},
		{"shape overflow", func(dir string) string {
			return corrupt(t, dir, "overflow.safetensors", set("h.0.ln_1.bias", "shape", []int64{1 << 40, 1 << 40}))
		}, "overflows"},
		{"offsets out of range", func(dir string) string {
			return corrupt(t, dir, "range.safetensors", set("ln_f.bias", "data_offsets", []int64{1 << 40, 1<<40 + 256}))
		}, "past the end"},
		{"size mismatch", func(dir string) string {
			return corrupt(t, dir, "size.safetensors", set("h.0.ln_1.bias", "shape", []int{65}))
		}, "needs 65×4 bytes"},
		{"overlap", func(dir string) string {
			return corrupt(t, dir, "overlap.safetensors", func(h map[string]map[string]any) {
				h["h.0.ln_1.bias"]["data_offsets"] = h["h.0.ln_1.weight"]["data_offsets"]
			})
		}, "overlap"},
		{"missing tensor", func(dir string) string {
			return corrupt(t, dir, "missing.safetensors", func(h map[string]map[string]any) { delete(h, "h.2.mlp.c_fc.bias") })
		}, `missing tensor "h.2.mlp.c_fc.bias"`},
		{"misshapen tensor", func(dir string) string {
			return corrupt(t, dir, "shape.safetensors", set("h.1.ln_2.weight", "shape", []int{32, 2}))
		}, `"h.1.ln_2.weight" has shape [32 2], want [64]`},
		{"linear layout", func(dir string) string {
			return corrupt(t, dir, "linear.safetensors", set("h.3.attn.c_attn.weight", "shape", []int{192, 64}))
		}, `"h.3.attn.c_attn.weight" has shape [192 64], want [64 192]`},
		{"widths differ", func(dir string) string {
			return corrupt(t, dir, "width.safetensors", set("wpe.weight", "shape", []int{128, 32}))
		}, "widths differ"},
		{"layer gap", func(dir string) string {
			return corrupt(t, dir, "gap.safetensors", func(h map[string]map[string]any) {
				for k, v := range h {
					if strings.HasPrefix(k, "h.2.") {
						delete(h, k)
						h["h.7."+k[4:]] = v
					}
				}
			})
		}, "no tensors for layer 2"},
		{"unexpected tensor", func(dir string) string {
			return corrupt(t, dir, "extra.safetensors", func(h map[string]map[string]any) {
				h["h.0.attn.q_proj.weight"] = map[string]any{"dtype": "F32", "shape": []int{0, 64}, "data_offsets": []int{0, 0}}
			})
		}, `unexpected tensor "h.0.attn.q_proj.weight"`},
		{"integer tensor", func(dir string) string {
			return corrupt(t, dir, "int.safetensors", set("ln_f.bias", "dtype", "I32"))
		}, `"ln_f.bias" has dtype I32`},
		{"not gpt2", func(dir string) string {
			return corrupt(t, dir, "bert.safetensors", func(h map[string]map[string]any) {
				h["embeddings.word_embeddings.weight"] = h["wte.weight"]
				delete(h, "wte.weight")
			})
		}, `missing tensor "wte.weight"`},
		{"no blocks", func(dir string) string {
			return corrupt(t, dir, "noblocks.safetensors", func(h map[string]map[string]any) {
				for k := range h {
					if strings.HasPrefix(k, "h.") {
						delete(h, k)
					}
				}
			})
		}, "no transformer blocks"},
		{"prefixed twice", func(dir string) string {
			return corrupt(t, dir, "twice.safetensors", func(h map[string]map[string]any) {
				h["transformer.ln_f.bias"] = map[string]any{"dtype": "F32", "shape": []int{0}, "data_offsets": []int{0, 0}}
			})
		}, `both "ln_f.bias" and "transformer.ln_f.bias"`},
		{"config n_layer", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"n_layer": 12, "n_head": 4}`))
			return writeBytes(t, dir+"/cfg.safetensors", fixture)
		}, "n_layer is 12 but the tensors say 4"},
		{"config n_head", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"n_head": 5}`))
			return writeBytes(t, dir+"/heads.safetensors", fixture)
		}, "n_head 5 does not divide the width 64"},
		{"config model_type", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"model_type": "llama"}`))
			return writeBytes(t, dir+"/llama.safetensors", fixture)
		}, `model_type is "llama"`},
		{"config n_head 0", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"n_head": 0}`))
			return writeBytes(t, dir+"/heads0.safetensors", fixture)
		}, "n_head is 0: want at least 1"},
		{"config relu", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"activation_function": "relu"}`))
			return writeBytes(t, dir+"/relu.safetensors", fixture)
		}, `activation_function is "relu", but patchlab's GPT-2 computes "gelu_new" only`},
		{"config negative epsilon", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"layer_norm_epsilon": -1}`))
			return writeBytes(t, dir+"/eps.safetensors", fixture)
		}, "layer_norm_epsilon is -1, but patchlab's GPT-2 computes with 1e-05 only"},
		{"config n_ctx", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"n_ctx": 16}`))
			return writeBytes(t, dir+"/ctx.safetensors", fixture)
		}, "n_ctx is 16 but the tensors say 64 (rows in wpe.weight)"},
		{"config n_layer 100000", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"n_layer": 100000}`))
			return writeBytes(t, dir+"/layers.safetensors", fixture)
		}, "n_layer is 100000 but the tensors say 4 (layers (h.N.*))"},
		{"config null", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`null`))
			return writeBytes(t, dir+"/null.safetensors", fixture)
		}, "config.json: want a JSON object"},
		{"config invalid", func(dir string) string {
			writeBytes(t, dir+"/config.json", []byte(`{"n_head": "four"}`))
			return writeBytes(t, dir+"/badcfg.safetensors", fixture)
		}, "config.json"},
		{"not a file", func(dir string) string { return dir }, "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.make(t.TempDir())
			m, err := LoadSafetensors(path)
			if err == nil {
				t.Fatalf("loaded %+v", m.Config)
			}
			if strings.Count(err.Error(), path) != 1 || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want the path once and %q", err, c.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := tempPath(t, "none.safetensors")
	_, err := LoadSafetensors(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
}

func TestWidthWithoutHeads(t *testing.T) {
	c := gpt2.Config{Layers: 1, Heads: 3, Width: 96, Context: 4, Vocab: 5}
	path := writeFile(t, tempPath(t, "odd.safetensors"), hfTensors(t, gpt2.Random(c, 1), "F32", ""))
	if _, err := LoadSafetensors(path); err == nil || !strings.Contains(err.Error(), "not a multiple of 64") {
		t.Fatalf("got %v", err)
	}
}

// TestLoadNonFinite: a NaN or an infinity in any weight is refused with the
// tensor's name, in a vector and in a Conv1D matrix.
func TestLoadNonFinite(t *testing.T) {
	for _, name := range []string{"h.1.ln_2.bias", "h.0.mlp.c_fc.weight"} {
		m := gpt2.Random(gpt2.Config{Layers: 2, Heads: 2, Width: 64, Context: 8, Vocab: 40}, 1)
		tensors := hfTensors(t, m, "F32", "")
		for i := range tensors {
			if tensors[i].Name == name {
				binary.LittleEndian.PutUint32(tensors[i].Data[8:], 0x7fc00000) // NaN
			}
		}
		path := writeFile(t, tempPath(t, "nan.safetensors"), tensors)
		_, err := LoadSafetensors(path)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming the tensor and the file", name, err)
		}
	}
}

// TestLoadHugeWeight: a finite weight beyond the format's limit (3e38
// would overflow the first sum into NaN probabilities) is refused by name.
func TestLoadHugeWeight(t *testing.T) {
	m := gpt2.Random(gpt2.Config{Layers: 1, Heads: 1, Width: 64, Context: 8, Vocab: 40}, 1)
	tensors := hfTensors(t, m, "F32", "")
	for i := range tensors {
		if tensors[i].Name == "h.0.attn.c_proj.weight" {
			binary.LittleEndian.PutUint32(tensors[i].Data[4:], math.Float32bits(3e38))
		}
	}
	path := writeFile(t, tempPath(t, "huge.safetensors"), tensors)
	_, err := LoadSafetensors(path)
	if err == nil || !strings.Contains(err.Error(), "h.0.attn.c_proj.weight") || !strings.Contains(err.Error(), "|w| ≤ 1e+06") || strings.Count(err.Error(), path) != 1 {
		t.Errorf("got %v, want an error naming the tensor, the limit and the file once", err)
	}
}

// TestTiedHead: an lm_head.weight is loaded only as a copy of wte; one
// with other values (random, NaN), dtype or shape is refused by name.
func TestTiedHead(t *testing.T) {
	c := gpt2.Config{Layers: 1, Heads: 1, Width: 64, Context: 8, Vocab: 40}
	m := gpt2.Random(c, 2)
	for _, tc := range []struct {
		name string
		edit func(lm *safetensors.NamedTensor)
		want string
	}{
		{"random", func(lm *safetensors.NamedTensor) {
			lm.Data, _ = safetensors.Encode("F32", rows(gpt2.Random(c, 3).WTE))
		}, "other values"},
		{"NaN", func(lm *safetensors.NamedTensor) {
			binary.LittleEndian.PutUint32(lm.Data[12:], 0x7fc00000)
		}, "other values"},
		{"dtype", func(lm *safetensors.NamedTensor) {
			lm.DType = "F16"
			lm.Data, _ = safetensors.Encode("F16", rows(m.WTE))
		}, "another dtype or shape (F16[40 64], not F32[40 64])"},
		{"shape", func(lm *safetensors.NamedTensor) {
			lm.Shape = []int{20, 128}
		}, "another dtype or shape"},
	} {
		ts := hfTensors(t, m, "F32", "")
		lm := ts[0]
		lm.Name, lm.Data = "lm_head.weight", bytes.Clone(lm.Data)
		tc.edit(&lm)
		path := writeFile(t, tempPath(t, "lm.safetensors"), append(ts, lm))
		_, err := LoadSafetensors(path)
		if err == nil || !strings.Contains(err.Error(), "lm_head.weight holds "+tc.want) || strings.Count(err.Error(), path) != 1 {
			t.Errorf("%s: got %v, want %q and the file once", tc.name, err, tc.want)
		}
	}
}
