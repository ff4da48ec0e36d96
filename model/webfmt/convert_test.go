package webfmt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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
	for _, bits := range []int{DefaultBits, 13} {
		t.Run(fmt.Sprint(bits), func(t *testing.T) { testConvertTinyGPT2(t, bits) })
	}
}

func testConvertTinyGPT2(t *testing.T, bits int) {
	f := openFixture(t, "model.safetensors")
	dir := t.TempDir()
	var done, total int64
	err := Convert(context.Background(), f, fixtureConfig(t), dir, bits, func(d, n int64) { done, total = d, n })
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

	// Matrices are quantised and within quantisation error of the F32
	// weights, which Hugging Face stores [in, out] for Conv1D.
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
		checkQuantised(t, c.name, c.m, bits, at)
	}
	// And equal, bit for bit, to the F32 loader's model quantised.
	ref, err := weights.FromSafetensors(f, fixtureConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, m, Quantize(ref, bits))

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

// checkQuantised checks that m has the type and width Quantize(bits) gives
// the parameter (QN wte one bit narrower, F32 wpe, QN block matrices),
// float16 steps, and each weight within half a code of want, or clamped to
// the largest code (steps may be chosen below max|w|/top).
func checkQuantised(t *testing.T, name string, m tensor.Matrix, bits int, want func(r, k int) float32) {
	t.Helper()
	var (
		scales     []float32
		lo, top    float64
		unit       float64 // codes per step
		rows, cols = m.Rows(), m.Cols()
	)
	wantBits := map[bool]int{true: bits, false: WTEBits(bits)}[strings.HasPrefix(name, "h.")]
	q, isQN := m.(*tensor.QN)
	_, isF32 := m.(*tensor.F32)
	switch {
	case name == "wpe.weight" && !isF32, name != "wpe.weight" && (!isQN || q.Bits != wantBits):
		t.Errorf("%s is %T (want %d-bit codes)", name, m, wantBits)
		return
	case isQN:
		scales, unit = q.Steps, math.Ldexp(1, q.Bits-8)
		lo, top = -math.Ldexp(1, q.Bits-1), math.Ldexp(1, q.Bits-1)-1
	}
	for _, s := range scales {
		if tensor.RoundF16(s) != s {
			t.Fatalf("%s: step %v is not a float16 value", name, s)
		}
	}
	row := make([]float32, cols)
	worst := 0.0
	for r := range rows {
		m.Row(row, r)
		for k, got := range row {
			w := float64(want(r, k))
			err := math.Abs(float64(got) - w)
			if scales == nil { // float16: relative error 2⁻¹¹
				if float32(got) != tensor.RoundF16(float32(w)) {
					t.Fatalf("%s[%d][%d] = %v, want %v rounded to float16", name, r, k, got, w)
				}
				worst = max(worst, err)
				continue
			}
			step := float64(scales[(r*cols+k)/tensor.QNBlock]) / unit
			clamped := w >= step*top && float64(got) == step*top || w <= step*lo && float64(got) == step*lo
			if err > step/2*(1+1e-5)+1e-12 && !clamped {
				t.Fatalf("%s[%d][%d] = %v, want %v ± %v", name, r, k, got, w, step/2)
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
	if err := Convert(context.Background(), openFixture(t, "model-f16.safetensors"), nil, dir, DefaultBits, nil); err != nil {
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
		`missing tensor "h.2.mlp.c_fc.bias"`: func(ts []safetensors.NamedTensor) []safetensors.NamedTensor {
			for i, tn := range ts {
				if tn.Name == "transformer.h.2.mlp.c_fc.bias" {
					return append(ts[:i], ts[i+1:]...)
				}
			}
			return ts
		},
		`"transformer.h.1.attn.c_proj.weight" has shape [64 64 1]`: func(ts []safetensors.NamedTensor) []safetensors.NamedTensor {
			for i := range ts {
				if ts[i].Name == "transformer.h.1.attn.c_proj.weight" {
					ts[i].Shape = []int{64, 64, 1}
				}
			}
			return ts
		},
	}
	// A weight set to v, stored as float32 (the fixture is).
	setWeight := func(name string, i int, v float32) func(ts []safetensors.NamedTensor) []safetensors.NamedTensor {
		return func(ts []safetensors.NamedTensor) []safetensors.NamedTensor {
			for k := range ts {
				if ts[k].Name == "transformer."+name {
					ts[k].Data = slices.Clone(ts[k].Data)
					binary.LittleEndian.PutUint32(ts[k].Data[4*i:], math.Float32bits(v))
				}
			}
			return ts
		}
	}
	cases[`tensor "h.0.mlp.c_fc.weight" holds NaN at element 5, outside the range of a GPT-2 weight`] = setWeight("h.0.mlp.c_fc.weight", 5, float32(math.NaN()))
	cases[`tensor "h.3.attn.c_proj.weight" holds 3e+07 at element 64, outside the range of a GPT-2 weight (finite, |w| ≤ 1e+06)`] = setWeight("h.3.attn.c_proj.weight", 64, 3e7) // refused by the loader, which webfmt reads through
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
		err = Convert(context.Background(), g, fixtureConfig(t), dir, DefaultBits, nil)
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

// convertSmallShards converts m with 10-bit codes in shards of at most
// 10 kB, so that wte (500×64 int8) is split.
func convertSmallShards(t *testing.T, m *gpt2.Model, dir string) {
	t.Helper()
	if err := convert(context.Background(), m.Config, 10, nil, modelSource(m), dir, 10_000, nil); err != nil {
		t.Fatal(err)
	}
}

// ConvertModel of an F32 model loads as that model's Quantize(10), bit for
// bit, and so does ConvertModel of the quantised model, which writes the
// same shards.
func TestConvertModelIsExact(t *testing.T) {
	f32 := gpt2.Random(tinyConfig, 1)
	ref := Quantize(f32, 10)
	var shards []Shard
	for _, src := range []*gpt2.Model{f32, ref} {
		dir := t.TempDir()
		convertSmallShards(t, src, dir)
		man := readManifest(t, dir)
		if parts := man.Tensors[0].Parts; len(parts) < 2 {
			t.Fatalf("wte.weight in %d parts: the test means to split it", len(parts))
		}
		if shards == nil {
			shards = man.Shards
		} else if !slices.Equal(man.Shards, shards) {
			t.Errorf("ConvertModel(m.Quantize(10)) wrote other shards than ConvertModel(m)")
		}
		m, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, m, ref)
	}
}

// otherMatrix is a Matrix of a type ConvertModel does not know.
type otherMatrix struct{ *tensor.F32 }

// ConvertModel refuses matrices it would have to quantise twice, and
// widths the format does not have.
func TestConvertModelRejectsOtherQuantisation(t *testing.T) {
	cases := map[string]func(m *gpt2.Model){
		"wte.weight: scale": func(m *gpt2.Model) { // a step beyond float16's range
			q := tensor.QuantizeQN(m.WTE.(*tensor.F32), WTEBits(9))
			q.Steps[3] = 1e6
			m.WTE = q
		},
		"h.1.mlp.c_fc.weight: a *webfmt.otherMatrix cannot be stored": func(m *gpt2.Model) {
			m.Blocks[1].FC = &otherMatrix{m.Blocks[1].FC.(*tensor.F32)}
		},
		"h.1.mlp.c_fc.weight: 12-bit codes, want 9": func(m *gpt2.Model) {
			m.Blocks[1].FC = tensor.QuantizeQN(m.Blocks[1].FC.(*tensor.F32), 12)
		},
		"wpe.weight: a *tensor.QN cannot be stored": func(m *gpt2.Model) { m.WPE = tensor.QuantizeQN(m.WPE.(*tensor.F32), 9) },
	}
	for want, edit := range cases {
		m := gpt2.Random(tinyConfig, 1)
		edit(m)
		dir := t.TempDir()
		err := ConvertModel(m, 9, nil, dir, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("a failed conversion left %v", names)
		}
	}
}

// checkSame checks that the parameters of m and of ref, a quantised
// model, are equal bit for bit and of the same types.
func checkSame(t *testing.T, m, ref *gpt2.Model) {
	t.Helper()
	if m.Config != ref.Config {
		t.Fatalf("config %+v, want %+v", m.Config, ref.Config)
	}
	for _, p := range params(ref.Config) {
		if !p.Matrix {
			if !sameFloats(*p.Vec(m), *p.Vec(ref)) {
				t.Errorf("%s differs", p.Name)
			}
			continue
		}
		got, want := *p.Mat(m), *p.Mat(ref)
		same := false
		switch w := want.(type) {
		case *tensor.QN:
			g, ok := got.(*tensor.QN)
			same = ok && g.R == w.R && g.C == w.C && g.Bits == w.Bits && slices.Equal(g.Hi, w.Hi) && slices.Equal(g.Lo, w.Lo) && sameFloats(g.Steps, w.Steps)
		case *tensor.F32:
			g, ok := got.(*tensor.F32)
			same = ok && g.R == w.R && g.C == w.C && sameFloats(g.Data, w.Data)
		default:
			t.Fatalf("%s: reference is %T", p.Name, w)
		}
		if !same {
			t.Errorf("%s differs: %T, want %T equal bit for bit", p.Name, got, want)
		}
	}
}

// sameFloats reports whether a and b are equal bit for bit.
func sameFloats(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
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
	if !sameFloats(got.LNFG, b.LNFG) || !sameFloats(got.Blocks[1].FCB, b.Blocks[1].FCB) {
		t.Errorf("loaded the earlier model")
	}
}

// Converting over a conversion of version 1 removes its shards too.
func TestConvertReplacesVersion1(t *testing.T) {
	dir := t.TempDir()
	old := `{"format":"patchlab-int8","version":1,"q8_block":32,"shards":[{"file":"shard-000-0123456789ab.bin","size":3,"sha256":"x"}],"tensors":[]}`
	if err := os.WriteFile(filepath.Join(dir, ManifestName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shard-000-0123456789ab.bin"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	convertSmallShards(t, gpt2.Random(tinyConfig, 1), dir)
	m := readManifest(t, dir)
	if len(dirNames(t, dir)) != len(m.Shards)+1 {
		t.Errorf("files %v, want the manifest and its %d shards", dirNames(t, dir), len(m.Shards))
	}
}

func TestConvertCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	err := Convert(ctx, openFixture(t, "model.safetensors"), fixtureConfig(t), dir, DefaultBits, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("a cancelled conversion left %v", names)
	}
}

// Quantized builds in memory the very model Convert writes.
func TestQuantizedIsConvert(t *testing.T) {
	f := openFixture(t, "model.safetensors")
	for _, bits := range []int{9, 12} {
		dir := t.TempDir()
		if err := Convert(context.Background(), f, fixtureConfig(t), dir, bits, nil); err != nil {
			t.Fatal(err)
		}
		want, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Quantized(context.Background(), f, fixtureConfig(t), bits)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, got, want)
	}
}
