package webfmt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// TestFormatSpec reads converted files as FORMAT.md describes them, with
// nothing from this package but the file names: the manifest as plain JSON,
// each tensor's bytes from its parts, the codes from the high byte and the
// planes of low bits, the weight as (scale / 2^k) · q in float32. Every
// weight must equal the one Load gives.
func TestFormatSpec(t *testing.T) {
	for _, bits := range []int{9, 11, 16} {
		dir := t.TempDir()
		m := gpt2.Random(tinyConfig, 3)
		if err := convert(context.Background(), m.Config, bits, nil, modelSource(m), dir, 10_000, nil); err != nil {
			t.Fatal(err)
		}
		loaded, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		var man struct {
			Bits    int `json:"bits"`
			Shards  []struct{ File string }
			Tensors []struct {
				Name, DType string
				Shape       []int
				Parts       []struct{ Shard, Offset, Rows int }
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &man); err != nil {
			t.Fatal(err)
		}
		size := map[string]int{"i8": 1, "u8": 1, "f16": 2, "f32": 4}
		raw := map[string][]byte{}
		shapes := map[string][]int{}
		for _, tn := range man.Tensors {
			row := size[tn.DType]
			for _, d := range tn.Shape[1:] {
				row *= d
			}
			var b []byte
			for _, p := range tn.Parts {
				shard, err := os.ReadFile(filepath.Join(dir, man.Shards[p.Shard].File))
				if err != nil {
					t.Fatal(err)
				}
				b = append(b, shard[p.Offset:p.Offset+p.Rows*row]...)
			}
			raw[tn.Name], shapes[tn.Name] = b, tn.Shape
		}
		f16 := func(b []byte, i int) float32 {
			return tensor.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		check := func(name string, mat tensor.Matrix, n int) {
			base := name[:len(name)-len(".weight")]
			hi, lo, sc := raw[name], raw[base+".lowbits"], raw[base+".scale"]
			R, K, k := shapes[name][0], shapes[name][1], n-8
			if k > 0 && (shapes[base+".lowbits"][1] != k) {
				t.Fatalf("%s: %v low-bit planes, want %d", name, shapes[base+".lowbits"], k)
			}
			if k == 0 && lo != nil {
				t.Fatalf("%s: low bits stored for 8-bit codes", name)
			}
			got := make([]float32, K)
			for r := 0; r < R; r++ {
				mat.Row(got, r)
				for c := 0; c < K; c++ {
					q := int32(int8(hi[r*K+c])) * (1 << k)
					for j := 0; j < k; j++ {
						q += int32(lo[(r*k+j)*K/8+c/8]>>(c%8)&1) << j
					}
					w := f16(sc, r*K/64+c/64) / float32(int(1)<<k) * float32(q)
					if math.Float32bits(w) != math.Float32bits(got[c]) {
						t.Fatalf("%d bits, %s[%d][%d]: the specification gives %g, Load %g", bits, name, r, c, w, got[c])
					}
				}
			}
		}
		if man.Bits != bits {
			t.Fatalf("bits %d, want %d", man.Bits, bits)
		}
		check("wte.weight", loaded.WTE, bits-1)
		check("h.1.mlp.c_proj.weight", loaded.Blocks[1].FCProj, bits)
		check("h.0.attn.c_attn.weight", loaded.Blocks[0].QKV, bits)
		wpe := loaded.WPE.(*tensor.F32).Data
		for i, v := range wpe {
			if f16(raw["wpe.weight"], i) != v {
				t.Fatalf("wpe[%d]: %g, Load %g", i, f16(raw["wpe.weight"], i), v)
			}
		}
	}
}
