package webfmt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// hfGPT2Bytes is the size of Hugging Face's gpt2 model.safetensors (F32).
const hfGPT2Bytes = 548_105_171

// TestGPT2SmallSize converts a random GPT-2-small-shaped model, which has
// the real sizes, with the narrowest codes (9-bit block matrices, 8-bit wte)
// and reports the output's size against the F32 file: about 140 MB, 0.256×
// (the low-bit plane costs an eighth of a byte a weight, float16 steps over
// 64 weights a thirty-second, wpe is float16). It takes a few seconds and
// about 1 GB of memory.
func TestGPT2SmallSize(t *testing.T) {
	if testing.Short() {
		t.Skip("converts a 124M-parameter model")
	}
	dir := t.TempDir()
	if err := ConvertModel(gpt2.Random(gpt2.Small, 1), DefaultBits, nil, dir, nil); err != nil {
		t.Fatal(err)
	}
	var total int64
	names := dirNames(t, dir)
	for _, name := range names {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
	}
	ratio := float64(total) / hfGPT2Bytes
	t.Logf("GPT-2 small: %d files, %d bytes (%.1f MB) = %.3f× the %d-byte F32 file", len(names), total, float64(total)/1e6, ratio, hfGPT2Bytes)
	if ratio > 0.26 {
		t.Errorf("%.3f× the F32 file, want ≤ 0.26×", ratio)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != gpt2.Small {
		t.Errorf("config %+v", m.Config)
	}
	if q, ok := m.Blocks[11].FCProj.(*tensor.QN); !ok || q.Bits != DefaultBits {
		t.Errorf("h.11.mlp.c_proj.weight is %T, want %d-bit *tensor.QN", m.Blocks[11].FCProj, DefaultBits)
	}
}
