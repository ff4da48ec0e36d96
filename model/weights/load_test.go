package weights

import (
	"math"
	"os"
	"runtime"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
)

var tinyConfig = gpt2.Config{Layers: 4, Heads: 4, Width: 64, Context: 64, Vocab: 50257}

func TestLoadTinyF32(t *testing.T) {
	path := fixtures + "model.safetensors"
	m, err := LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != tinyConfig {
		t.Fatalf("config %+v, want %+v", m.Config, tinyConfig)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float32, 64)
	m.WTE.Row(row, 0)
	for i, v := range row {
		if want := rawF32(t, raw, "wte.weight", i); v != want {
			t.Fatalf("wte[0][%d] = %v, want %v", i, v, want)
		}
	}
	m.WPE.Row(row, 63)
	if want := rawF32(t, raw, "wpe.weight", 63*64+5); row[5] != want {
		t.Errorf("wpe[63][5] = %v, want %v", row[5], want)
	}
	// c_attn is stored [in=64][out=192]; QKV is out-major [192][64].
	qkv := make([]float32, 64)
	for _, io := range [][2]int{{0, 0}, {5, 130}, {63, 191}, {17, 64}} {
		in, out := io[0], io[1]
		m.Blocks[2].QKV.Row(qkv, out)
		if want := rawF32(t, raw, "h.2.attn.c_attn.weight", in*192+out); qkv[in] != want {
			t.Errorf("h.2 QKV[%d][%d] = %v, want %v", out, in, qkv[in], want)
		}
	}
	// mlp.c_proj is stored [in=256][out=64]; FCProj is [64][256].
	fcp := make([]float32, 256)
	m.Blocks[3].FCProj.Row(fcp, 7)
	if want := rawF32(t, raw, "h.3.mlp.c_proj.weight", 200*64+7); fcp[200] != want {
		t.Errorf("h.3 FCProj[7][200] = %v, want %v", fcp[200], want)
	}
	if want := rawF32(t, raw, "h.1.attn.c_attn.bias", 150); m.Blocks[1].QKVB[150] != want {
		t.Errorf("h.1 c_attn.bias[150] = %v, want %v", m.Blocks[1].QKVB[150], want)
	}
	if want := rawF32(t, raw, "ln_f.bias", 3); m.LNFB[3] != want {
		t.Errorf("ln_f.bias[3] = %v, want %v", m.LNFB[3], want)
	}
}

func TestLoadTinyF16(t *testing.T) {
	m32, err := LoadSafetensors(fixtures + "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m16, err := LoadSafetensors(fixtures + "model-f16.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	compare(t, m16, m32, 1e-3)
}

// TestConfigAllGPT2Sizes infers the configuration of every GPT-2 size from
// headers alone (the data is virtual zeros, nothing real-sized is allocated).
func TestConfigAllGPT2Sizes(t *testing.T) {
	for _, want := range []gpt2.Config{
		{Layers: 12, Heads: 12, Width: 768, Context: 1024, Vocab: 50257},
		{Layers: 24, Heads: 16, Width: 1024, Context: 1024, Vocab: 50257},
		{Layers: 36, Heads: 20, Width: 1280, Context: 1024, Vocab: 50257},
		{Layers: 48, Heads: 25, Width: 1600, Context: 1024, Vocab: 50257},
	} {
		f := virtualCheckpoint(t, want, "gpt2.safetensors")
		got, err := ConfigFromShapes(f, nil)
		if err != nil || got != want {
			t.Errorf("ConfigFromShapes = %+v, %v; want %+v", got, err, want)
		}
		hf := []byte(`{"model_type":"gpt2","n_layer":` + itoa(want.Layers) + `,"n_head":` + itoa(want.Heads) +
			`,"n_embd":` + itoa(want.Width) + `,"n_positions":1024,"n_ctx":1024,"vocab_size":50257}`)
		if got, err := ConfigFromShapes(f, hf); err != nil || got != want {
			t.Errorf("with config.json: %+v, %v; want %+v", got, err, want)
		}
		if err := checkTensors(f, mustNames(t, f), want); err != nil {
			t.Errorf("checkTensors: %v", err)
		}
	}
}

// TestLoadLayerPatterns loads whole synthetic checkpoints with GPT-2's layer
// counts (at a small width) and checks that every value survives exactly.
func TestLoadLayerPatterns(t *testing.T) {
	for _, layers := range []int{12, 24, 36, 48} {
		c := gpt2.Config{Layers: layers, Heads: 1, Width: 64, Context: 16, Vocab: 50}
		want := gpt2.Random(c, uint64(layers))
		path := writeFile(t, tempPath(t, "model.safetensors"), hfTensors(t, want, "F32", ""))
		got, err := LoadSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, got, want, 0)
	}
}

func TestHeadsFromConfigJSON(t *testing.T) {
	c := gpt2.Config{Layers: 2, Heads: 8, Width: 128, Context: 8, Vocab: 10}
	dir := t.TempDir()
	path := writeFile(t, dir+"/model.safetensors", hfTensors(t, gpt2.Random(c, 1), "F32", ""))
	if m, err := LoadSafetensors(path); err != nil || m.Heads != 2 {
		t.Fatalf("without config.json: %v heads, %v; want 128/64 = 2", m, err)
	}
	if err := os.WriteFile(dir+"/config.json", []byte(`{"n_head": 8, "n_layer": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := LoadSafetensors(path); err != nil || m.Heads != 8 {
		t.Fatalf("with config.json: %v, %v; want 8 heads", m, err)
	}
}

func TestLoadBF16(t *testing.T) {
	c := gpt2.Config{Layers: 2, Heads: 2, Width: 128, Context: 32, Vocab: 100}
	want := gpt2.Random(c, 7)
	path := writeFile(t, tempPath(t, "bf16.safetensors"), hfTensors(t, want, "BF16", ""))
	got, err := LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, want, math.Ldexp(1, -8)) // bfloat16 keeps 8 significant bits
}

// TestPrefixAndBuffers loads a checkpoint saved from GPT2LMHeadModel: names
// under "transformer.", the attention-mask buffers and the tied lm_head.
func TestPrefixAndBuffers(t *testing.T) {
	c := gpt2.Config{Layers: 3, Heads: 1, Width: 64, Context: 8, Vocab: 20}
	want := gpt2.Random(c, 3)
	ts := hfTensors(t, want, "F32", "transformer.")
	mask := make([]byte, c.Context*c.Context)
	for i := range c.Layers {
		p := "transformer.h." + itoa(i) + "."
		ts = append(ts,
			namedTensor(p+"attn.bias", "U8", []int{1, 1, c.Context, c.Context}, mask),
			namedTensor(p+"attn.masked_bias", "F32", nil, []byte{0, 0x40, 0x1c, 0xc6}))
	}
	lm := ts[0] // transformer.wte.weight
	lm.Name = "lm_head.weight"
	ts = append(ts, lm)
	got, err := LoadSafetensors(writeFile(t, tempPath(t, "lm.safetensors"), ts))
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, want, 0)
}

func TestTranspose(t *testing.T) {
	for _, rc := range [][2]int{{1, 1}, {3, 70}, {65, 33}, {64, 256}} {
		r, c := rc[0], rc[1]
		src := make([]float32, r*c)
		for i := range src {
			src[i] = float32(i)
		}
		dst := transpose(src, r, c)
		for i := range r {
			for j := range c {
				if dst[j*r+i] != src[i*c+j] {
					t.Fatalf("%d×%d: [%d][%d] wrong", r, c, j, i)
				}
			}
		}
	}
}

// TestLoadAllocations guards the peak-memory design: loading converts tensor
// by tensor through small buffers, so all it allocates is the model itself
// plus a little, never a second copy of the file.
func TestLoadAllocations(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := LoadSafetensors(fixtures + "model-f16.safetensors")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(m.Bytes())*5/4; got > limit {
		t.Errorf("loading allocated %d bytes for a %d-byte model (limit %d)", got, m.Bytes(), limit)
	}
}
