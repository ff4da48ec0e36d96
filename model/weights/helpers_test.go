package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/tensor"
)

// fixtures is where CI keeps the shared fixtures, beside the checkout.
const fixtures = "../../../shared/fixtures/tiny-gpt2/"

// hfTensors lays m out as a Hugging Face checkpoint: Conv1D weights [in, out],
// names with an optional prefix ("transformer.").
func hfTensors(t *testing.T, m *gpt2.Model, dtype, prefix string) []safetensors.NamedTensor {
	var out []safetensors.NamedTensor
	add := func(name string, shape []int, v []float32) {
		data, err := safetensors.Encode(dtype, v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, safetensors.NamedTensor{Name: prefix + name, DType: dtype, Shape: shape, Data: data})
	}
	mat := func(name string, w tensor.Matrix) { add(name, []int{w.Rows(), w.Cols()}, rows(w)) }
	conv := func(name string, w tensor.Matrix) {
		r, c := w.Rows(), w.Cols()
		v, tv := rows(w), make([]float32, r*c)
		for o := range r {
			for i := range c {
				tv[i*r+o] = v[o*c+i]
			}
		}
		add(name, []int{c, r}, tv)
	}
	vec := func(name string, v []float32) { add(name, []int{len(v)}, v) }
	mat("wte.weight", m.WTE)
	mat("wpe.weight", m.WPE)
	for i, b := range m.Blocks {
		p := fmt.Sprintf("h.%d.", i)
		vec(p+"ln_1.weight", b.LN1G)
		vec(p+"ln_1.bias", b.LN1B)
		conv(p+"attn.c_attn.weight", b.QKV)
		vec(p+"attn.c_attn.bias", b.QKVB)
		conv(p+"attn.c_proj.weight", b.Proj)
		vec(p+"attn.c_proj.bias", b.ProjB)
		vec(p+"ln_2.weight", b.LN2G)
		vec(p+"ln_2.bias", b.LN2B)
		conv(p+"mlp.c_fc.weight", b.FC)
		vec(p+"mlp.c_fc.bias", b.FCB)
		conv(p+"mlp.c_proj.weight", b.FCProj)
		vec(p+"mlp.c_proj.bias", b.FCProjB)
	}
	vec("ln_f.weight", m.LNFG)
	vec("ln_f.bias", m.LNFB)
	return out
}

// rows returns a matrix's elements row by row.
func rows(w tensor.Matrix) []float32 {
	v := make([]float32, w.Rows()*w.Cols())
	for r := range w.Rows() {
		w.Row(v[r*w.Cols():], r)
	}
	return v
}

func writeFile(t *testing.T, path string, tensors []safetensors.NamedTensor) string {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, tensors); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// eachParam visits every parameter of a model with its name, as flat data.
func eachParam(m *gpt2.Model, visit func(name string, v []float32)) {
	visit("wte", rows(m.WTE))
	visit("wpe", rows(m.WPE))
	for i, b := range m.Blocks {
		p := fmt.Sprintf("h.%d.", i)
		for _, v := range []struct {
			name string
			v    []float32
		}{
			{"ln_1.weight", b.LN1G}, {"ln_1.bias", b.LN1B}, {"qkv", rows(b.QKV)}, {"qkv.bias", b.QKVB},
			{"proj", rows(b.Proj)}, {"proj.bias", b.ProjB}, {"ln_2.weight", b.LN2G}, {"ln_2.bias", b.LN2B},
			{"fc", rows(b.FC)}, {"fc.bias", b.FCB}, {"fcproj", rows(b.FCProj)}, {"fcproj.bias", b.FCProjB},
		} {
			visit(p+v.name, v.v)
		}
	}
	visit("ln_f.weight", m.LNFG)
	visit("ln_f.bias", m.LNFB)
}

// compare checks that got's parameters are within tol·max(1, |want|) of want's.
func compare(t *testing.T, got, want *gpt2.Model, tol float64) {
	t.Helper()
	if got.Config != want.Config {
		t.Fatalf("config %+v, want %+v", got.Config, want.Config)
	}
	var wants [][]float32
	eachParam(want, func(_ string, v []float32) { wants = append(wants, v) })
	i := 0
	eachParam(got, func(name string, g []float32) {
		w := wants[i]
		i++
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, want %d", name, len(g), len(w))
		}
		for k := range g {
			if d := math.Abs(float64(g[k] - w[k])); d > tol*max(1, math.Abs(float64(w[k]))) {
				t.Fatalf("%s[%d] = %v, want %v", name, k, g[k], w[k])
			}
		}
	})
}

// rawHeader parses a safetensors header independently of package safetensors.
func rawHeader(t *testing.T, b []byte) (map[string]map[string]any, int) {
	n := int(binary.LittleEndian.Uint64(b))
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for k, v := range h {
		if k != "__metadata__" {
			var e map[string]any
			json.Unmarshal(v, &e)
			out[k] = e
		}
	}
	return out, 8 + n
}

// rawF32 reads element i of an F32 tensor straight from the file bytes.
func rawF32(t *testing.T, b []byte, name string, i int) float32 {
	h, start := rawHeader(t, b)
	begin := int(h[name]["data_offsets"].([]any)[0].(float64))
	return math.Float32frombits(binary.LittleEndian.Uint32(b[start+begin+4*i:]))
}

// virtual is a file of size bytes holding head then zeros: a header for
// tensors far larger than the test allocates.
type virtual struct {
	head []byte
	size int64
}

func (v virtual) ReadAt(p []byte, off int64) (int, error) {
	if off >= v.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), v.size-off))
	clear(p[:n])
	if off < int64(len(v.head)) {
		copy(p[:n], v.head[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// virtualCheckpoint is a GPT-2 checkpoint header of configuration c, in the
// Hugging Face layout written out by hand, over zero data.
func virtualCheckpoint(t *testing.T, c gpt2.Config, name string) *safetensors.File {
	C := c.Width
	shapes := map[string][]int{"wte.weight": {c.Vocab, C}, "wpe.weight": {c.Context, C}, "ln_f.weight": {C}, "ln_f.bias": {C}}
	for i := range c.Layers {
		p := fmt.Sprintf("h.%d.", i)
		for k, s := range map[string][]int{
			"ln_1.weight": {C}, "ln_1.bias": {C}, "ln_2.weight": {C}, "ln_2.bias": {C},
			"attn.c_attn.weight": {C, 3 * C}, "attn.c_attn.bias": {3 * C},
			"attn.c_proj.weight": {C, C}, "attn.c_proj.bias": {C},
			"mlp.c_fc.weight": {C, 4 * C}, "mlp.c_fc.bias": {4 * C},
			"mlp.c_proj.weight": {4 * C, C}, "mlp.c_proj.bias": {C},
			"attn.bias": {1, 1, c.Context, c.Context},
		} {
			shapes[p+k] = s
		}
	}
	header := map[string]any{}
	var off int64
	for k, s := range shapes {
		n := int64(4)
		for _, d := range s {
			n *= int64(d)
		}
		header[k] = map[string]any{"dtype": "F32", "shape": s, "data_offsets": []int64{off, off + n}}
		off += n
	}
	js, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	head := append(binary.LittleEndian.AppendUint64(nil, uint64(len(js))), js...)
	f, err := safetensors.Parse(virtual{head, int64(len(head)) + off}, int64(len(head))+off, name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func tempPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }

func itoa(i int) string { return strconv.Itoa(i) }

func namedTensor(name, dtype string, shape []int, data []byte) safetensors.NamedTensor {
	return safetensors.NamedTensor{Name: name, DType: dtype, Shape: shape, Data: data}
}

func mustNames(t *testing.T, f *safetensors.File) map[string]string {
	names, err := canonicalNames(f)
	if err != nil {
		t.Fatal(err)
	}
	return names
}
