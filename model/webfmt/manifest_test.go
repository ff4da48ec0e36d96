package webfmt

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
)

var tinyConfig = gpt2.Config{Layers: 2, Heads: 2, Width: 64, Context: 32, Vocab: 500}

// planned is a valid manifest for c laid out in shards of maxShard bytes,
// with made-up checksums.
func planned(t testing.TB, c gpt2.Config, maxShard int64) *Manifest {
	ts, sizes, err := layout(c, 11, maxShard)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Format: FormatName, Version: Version, Config: c, Bits: 11, QNBlock: 64, Tensors: ts}
	for i, s := range sizes {
		m.Shards = append(m.Shards, Shard{File: "shard-" + string(rune('a'+i)) + ".bin", Size: s, SHA256: strings.Repeat("0f", 32)})
	}
	return m
}

func marshal(t testing.TB, m any) []byte {
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseManifestRoundTrip(t *testing.T) {
	m := planned(t, tinyConfig, 100_000)
	for _, cal := range []*Calibration{nil, {Tolerance: 0.005, Worst: 0.0031}} {
		m.Calibration = cal
		got, err := ParseManifest(marshal(t, m))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip changed the manifest (calibration %v)", cal)
		}
	}
}

func TestParseManifestRejects(t *testing.T) {
	cases := []struct {
		name, want string
		edit       func(m *Manifest)
	}{
		{"format", `format is "safetensors"`, func(m *Manifest) { m.Format = "safetensors" }},
		{"version 1", "an older patchlab wrote it", func(m *Manifest) { m.Version = 1 }},
		{"version 2", "an older patchlab wrote it", func(m *Manifest) { m.Version = 2 }},
		{"version 4", "version 4 is not supported", func(m *Manifest) { m.Version = 4 }},
		{"block", "qn_block is 32", func(m *Manifest) { m.QNBlock = 32 }},
		{"bits 8", "bits is 8: want 9…16", func(m *Manifest) { m.Bits = 8 }},
		{"calibration", "calibration {Tolerance:0 Worst:0.1}", func(m *Manifest) { m.Calibration = &Calibration{Worst: 0.1} }},
		{"calibration NaN", "calibration", func(m *Manifest) { m.Calibration = &Calibration{Tolerance: 0.01, Worst: -1} }},
		{"bits 17", "bits is 17", func(m *Manifest) { m.Bits = 17 }},
		{"bits of another layout", "wte.lowbits: u8[500 2 8], want u8[500 3 8]", func(m *Manifest) { m.Bits = 12 }},
		{"config", "n_embd 64 is not a multiple of n_head 3", func(m *Manifest) { m.Config.Heads = 3 }},
		{"width", "n_embd 32 is not a multiple of 64", func(m *Manifest) { m.Config.Width, m.Config.Heads = 32, 1 }},
		{"n_layer 100000", "n_layer is 100000, want 1 to 1024", func(m *Manifest) { m.Config.Layers = 100000 }},
		{"n_head 0", "n_head is 0, want 1 to 1024", func(m *Manifest) { m.Config.Heads = 0 }},
		{"no shards", "no shards", func(m *Manifest) { m.Shards = nil }},
		{"path", `invalid file name "../x.bin"`, func(m *Manifest) { m.Shards[0].File = "../x.bin" }},
		{"dup shard", "listed twice", func(m *Manifest) { m.Shards[1].File = m.Shards[0].File }},
		{"big shard", "size 16000001", func(m *Manifest) { m.Shards[0].Size = MaxShardSize + 1 }},
		{"sha", "sha256", func(m *Manifest) { m.Shards[0].SHA256 = strings.Repeat("0F", 32) }},
		{"missing", "tensors, the configuration implies", func(m *Manifest) { m.Tensors = m.Tensors[1:] }},
		{"unknown", `"lm_head.weight" is not`, func(m *Manifest) { m.Tensors[0].Name = "lm_head.weight" }},
		{"dup tensor", "listed twice", func(m *Manifest) { m.Tensors[1].Name = m.Tensors[0].Name }},
		{"dtype", "wte.weight: f32", func(m *Manifest) { m.Tensors[0].DType = "f32" }},
		{"scale dtype", "wte.scale: f32[500 1], want f16[500 1]", func(m *Manifest) { m.Tensors[2].DType = "f32" }},
		{"lowbits", "wte.lowbits: u8[500 64 8], want u8[500 2 8]", func(m *Manifest) { lowbits(m).Shape[1] = 64 }},
		{"shape", "wte.weight: i8[500 32]", func(m *Manifest) { m.Tensors[0].Shape = []int{500, 32} }},
		{"no parts", "no parts", func(m *Manifest) { m.Tensors[2].Parts = nil }},
		{"rows", "do not tile", func(m *Manifest) { m.Tensors[2].Parts[0].Rows-- }},
		{"shard index", "shard index 99", func(m *Manifest) { m.Tensors[2].Parts[0].Shard = 99 }},
		{"align", "aligned to 64", func(m *Manifest) { m.Tensors[3].Parts[0].Offset += 4 }},
		{"bounds", "do not fit shard", func(m *Manifest) { m.Shards[m.Tensors[2].Parts[0].Shard].Size = 100 }},
		{"overlap", "overlap", func(m *Manifest) { m.Tensors[3].Parts[0].Offset = m.Tensors[2].Parts[0].Offset }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := planned(t, tinyConfig, 100_000)
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic: %v", p)
				}
			}()
			c.edit(m)
			_, err := ParseManifest(marshal(t, m))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// lowbits is the first low-bit plane in m.
func lowbits(m *Manifest) *Tensor {
	for i := range m.Tensors {
		if strings.HasSuffix(m.Tensors[i].Name, ".lowbits") {
			return &m.Tensors[i]
		}
	}
	panic("no lowbits")
}

// A manifest of version 1, as the previous patchlab wrote them (int8 with
// float32 scales, no q9_block), gets an error telling the user to convert
// the model again, not a complaint about its fields.
func TestParseManifestVersion1(t *testing.T) {
	v1 := `{"format":"patchlab-int8","version":1,"config":{"n_layer":2,"n_head":2,"n_embd":64,"n_ctx":32,"vocab_size":500},"q8_block":32,
"shards":[{"file":"shard-000-3f9a0c1d2e4b.bin","size":9000,"sha256":"` + strings.Repeat("0f", 32) + `"}],
"tensors":[{"name":"wte.weight","dtype":"i8","shape":[500,64],"parts":[{"shard":0,"offset":0,"rows":100}]},
{"name":"wte.scale","dtype":"f32","shape":[500,2],"parts":[{"shard":0,"offset":6400,"rows":500}]}]}`
	_, err := ParseManifest([]byte(v1))
	if err == nil || !strings.Contains(err.Error(), "version 1 is not supported") || !strings.Contains(err.Error(), "convert the checkpoint (model.safetensors) again with this patchlab") {
		t.Errorf("got %v, want an error telling to convert again", err)
	}
}

func TestParseManifestRejectsJSON(t *testing.T) {
	valid := marshal(t, planned(t, tinyConfig, 100_000))
	cases := map[string][]byte{
		"empty":         nil,
		"not an object": []byte(`[1]`),
		"unknown field": append(valid[:len(valid)-1:len(valid)-1], []byte(`,"extra":1}`)...),
		"trailing":      append(append([]byte{}, valid...), []byte(` {}`)...),
		"other version": []byte(`{"format":"patchlab-int8","version":7,"whatever":true}`),
	}
	for name, data := range cases {
		if _, err := ParseManifest(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := ParseManifest(cases["other version"])
	if err == nil || !strings.Contains(err.Error(), "version 7") {
		t.Errorf("a manifest of another version: got %v, want an error naming the version", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(marshal(f, planned(f, tinyConfig, 100_000)))
	f.Add(marshal(f, planned(f, gpt2.Config{Layers: 1, Heads: 1, Width: 64, Context: 1, Vocab: 1}, MaxShardSize)))
	f.Add(marshal(f, planned(f, tinyConfig, 3000))) // wte split over shards
	f.Add([]byte(`{"format":"patchlab-int8","version":2}`))
	f.Add([]byte(`{"format":"patchlab-int8","version":1,"q8_block":32}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		// A valid manifest survives a round trip and its layout is usable.
		again, err := ParseManifest(marshal(t, m))
		if err != nil {
			t.Fatalf("re-parsing a valid manifest: %v", err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatal("round trip changed the manifest")
		}
		for _, tn := range m.Tensors {
			for _, p := range tn.Parts {
				if p.Offset+int64(p.Rows)*tn.rowBytes() > m.Shards[p.Shard].Size {
					t.Fatalf("%s runs past its shard", tn.Name)
				}
			}
		}
	})
}
