package webfmt

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/weights"
)

// fixtures is where CI keeps the shared fixtures, beside the checkout.
const fixtures = "../../../shared/fixtures/tiny-gpt2/"

func openFixture(t testing.TB, name string) *safetensors.File {
	f, err := safetensors.Open(fixtures + name)
	if err != nil {
		t.Fatalf("%v (the shared fixtures must sit beside the work tree)", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fixtureConfig(t testing.TB) []byte {
	data, err := os.ReadFile(fixtures + "config.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestConvertTinyGPT2(t *testing.T) {
	f := openFixture(t, "model.safetensors")
	dir := t.TempDir()
	var done, total int64
	err := Convert(context.Background(), f, fixtureConfig(t), dir, func(d, n int64) { done, total = d, n })
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := (gpt2.Config{Layers: 4, Heads: 4, Width: 64, Context: 64, Vocab: 50257}); m.Config != want {
		t.Errorf("config %+v, want %+v", m.Config, want)
	}
	if st, err := os.Stat(filepath.Join(dir, ManifestName)); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("manifest.json has mode %v, want 0644 to be served", st.Mode())
	}
	if man := readManifest(t, dir); done != total || total != man.Bytes() {
		t.Errorf("progress ended at %d of %d, shards hold %d bytes", done, total, man.Bytes())
	}

	// Matrices are Q8 and within quantisation error of the F32 weights,
	// which Hugging Face stores [in, out] for Conv1D.
	matrices := []struct {
		name   string
		m      tensor.Matrix
		conv1D bool
	}{
		{"wte.weight", m.WTE, false},
		{"wpe.weight", m.WPE, false},
		{"h.0.attn.c_attn.weight", m.Blocks[0].QKV, true},
		{"h.1.attn.c_proj.weight", m.Blocks[1].Proj, true},
		{"h.2.mlp.c_fc.weight", m.Blocks[2].FC, true},
		{"h.3.mlp.c_proj.weight", m.Blocks[3].FCProj, true},
	}
	for _, c := range matrices {
		want := fixtureFloat32(t, f, c.name)
		at := func(r, k int) float32 { return want[r*c.m.Cols()+k] }
		if c.conv1D {
			at = func(r, k int) float32 { return want[k*c.m.Rows()+r] }
		}
		checkQuantised(t, c.name, c.m, at)
	}
	// And equal, bit for bit, to the F32 loader's model quantised.
	ref, err := weights.FromSafetensors(f, fixtureConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, m, ref.Quantize())

	vectors := map[string][]float32{
		"h.0.ln_1.weight": m.Blocks[0].LN1G, "h.1.attn.c_attn.bias": m.Blocks[1].QKVB,
		"h.3.mlp.c_proj.bias": m.Blocks[3].FCProjB, "ln_f.bias": m.LNFB,
	}
	for name, got := range vectors {
		want := fixtureFloat32(t, f, name)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want[i])
				break
			}
		}
	}
}

func fixtureFloat32(t testing.TB, f *safetensors.File, name string) []float32 {
	v, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkQuantised checks that m is Q8 and each weight within half a
// quantisation step of want.
func checkQuantised(t *testing.T, name string, m tensor.Matrix, want func(r, k int) float32) {
	t.Helper()
	q, ok := m.(*tensor.Q8)
	if !ok {
		t.Errorf("%s is %T, want *tensor.Q8", name, m)
		return
	}
	row := make([]float32, q.C)
	worst := 0.0
	for r := range q.R {
		q.Row(row, r)
		for k, got := range row {
			step := float64(q.Scales[r*q.C/tensor.Q8Block+k/tensor.Q8Block])
			err := math.Abs(float64(got) - float64(want(r, k)))
			if err > step/2*(1+1e-5)+1e-12 {
				t.Fatalf("%s[%d][%d] = %v, want %v ± %v", name, r, k, got, want(r, k), step/2)
			}
			worst = max(worst, err)
		}
	}
	if worst == 0 {
		t.Errorf("%s: no quantisation error at all: compared with itself?", name)
	}
}

func TestConvertInfersConfigFromF16(t *testing.T) {
	dir := t.TempDir()
	if err := Convert(context.Background(), openFixture(t, "model-f16.safetensors"), nil, dir, nil); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := (gpt2.Config{Layers: 4, Heads: 1, Width: 64, Context: 64, Vocab: 50257}); m.Config != want {
		t.Errorf("inferred config %+v, want %+v (heads are 64 wide)", m.Config, want)
	}
}

func TestConvertRejectsIncompleteCheckpoint(t *testing.T) {
	f := openFixture(t, "model.safetensors")
	cases := map[string]func(ts []safetensors.NamedTensor) []safetensors.NamedTensor{
		`no tensor "h.2.mlp.c_fc.bias"`: func(ts []safetensors.NamedTensor) []safetensors.NamedTensor {
			for i, tn := range ts {
				if tn.Name == "transformer.h.2.mlp.c_fc.bias" {
					return append(ts[:i], ts[i+1:]...)
				}
			}
			return ts
		},
		"h.1.attn.c_proj.weight has shape [64 64 1]": func(ts []safetensors.NamedTensor) []safetensors.NamedTensor {
			for i := range ts {
				if ts[i].Name == "transformer.h.1.attn.c_proj.weight" {
					ts[i].Shape = []int{64, 64, 1}
				}
			}
			return ts
		},
	}
	for want, edit := range cases {
		var ts []safetensors.NamedTensor
		for _, name := range f.Names() {
			data, err := f.Bytes(name)
			if err != nil {
				t.Fatal(err)
			}
			// With the prefix of GPT2LMHeadModel checkpoints, to check that too.
			tn := f.Tensors[name]
			ts = append(ts, safetensors.NamedTensor{Name: "transformer." + name, DType: tn.DType, Shape: tn.Shape, Data: data})
		}
		path := filepath.Join(t.TempDir(), "model.safetensors")
		writeSafetensors(t, path, edit(ts))
		g, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		err = Convert(context.Background(), g, fixtureConfig(t), dir, nil)
		g.Close()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("a failed conversion left %v", names)
		}
	}
}

func writeSafetensors(t *testing.T, path string, ts []safetensors.NamedTensor) {
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(out, ts); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func readManifest(t *testing.T, dir string) *Manifest {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// convertSmallShards converts m in shards of at most 10 kB, so that wte
// (500×64 int8) is split.
func convertSmallShards(t *testing.T, m *gpt2.Model, dir string) {
	t.Helper()
	if err := convert(context.Background(), m.Config, modelSource(m), dir, 10_000, nil); err != nil {
		t.Fatal(err)
	}
}

func TestConvertModelIsExact(t *testing.T) {
	src := gpt2.Random(tinyConfig, 1).Quantize()
	dir := t.TempDir()
	convertSmallShards(t, src, dir)
	if parts := readManifest(t, dir).Tensors[0].Parts; len(parts) < 2 {
		t.Fatalf("wte.weight in %d parts: the test means to split it", len(parts))
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, m, src)
}

// checkSame checks that the parameters of m and of ref, a quantised
// model, are equal.
func checkSame(t *testing.T, m, ref *gpt2.Model) {
	t.Helper()
	if m.Config != ref.Config {
		t.Fatalf("config %+v, want %+v", m.Config, ref.Config)
	}
	got, want := params(m), params(ref)
	for i := range want {
		if want[i].vec != nil {
			if !equal(*got[i].vec, *want[i].vec) {
				t.Errorf("%s differs", want[i].name)
			}
			continue
		}
		w, g := (*want[i].mat).(*tensor.Q8), (*got[i].mat).(*tensor.Q8)
		if !equal(g.Q, w.Q) || !equal(g.Scales, w.Scales) {
			t.Errorf("%s differs", want[i].name)
		}
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConvertReplacesPreviousConversion(t *testing.T) {
	dir := t.TempDir()
	convertSmallShards(t, gpt2.Random(tinyConfig, 1), dir)
	old := readManifest(t, dir)
	b := gpt2.Random(tinyConfig, 2)
	convertSmallShards(t, b, dir)
	m := readManifest(t, dir)
	want := map[string]bool{ManifestName: true}
	for _, s := range m.Shards {
		want[s.File] = true
	}
	for _, name := range dirNames(t, dir) {
		if !want[name] {
			t.Errorf("%s left behind", name)
		}
	}
	if old.Shards[0].File == m.Shards[0].File {
		t.Errorf("shard names do not follow their content")
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got.LNFG, b.LNFG) || !equal(got.Blocks[1].FCB, b.Blocks[1].FCB) {
		t.Errorf("loaded the earlier model")
	}
}

func TestConvertCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	err := Convert(ctx, openFixture(t, "model.safetensors"), fixtureConfig(t), dir, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("a cancelled conversion left %v", names)
	}
}
