package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	// The fixtures' first bytes (the header alone, so every tensor runs past
	// the end), and small valid files made of their first tensors.
	for _, name := range []string{"model.safetensors", "model-f16.safetensors"} {
		b, err := os.ReadFile(fixtures + name)
		if err != nil {
			continue
		}
		f.Add(b[:8+binary.LittleEndian.Uint64(b)])
		sf, err := Parse(bytes.NewReader(b), int64(len(b)), name)
		if err != nil {
			f.Fatal(err)
		}
		var small []NamedTensor
		for _, name := range []string{"ln_f.bias", "ln_f.weight", "h.3.attn.c_attn.bias"} {
			data, _ := sf.Bytes(name)
			t := sf.Tensors[name]
			small = append(small, NamedTensor{Name: name, DType: t.DType, Shape: t.Shape, Data: data})
		}
		var w bytes.Buffer
		Write(&w, small)
		f.Add(w.Bytes())
	}
	var w bytes.Buffer
	data, _ := Encode("F16", []float32{1, -2, 0.5})
	Write(&w, []NamedTensor{
		{Name: "a", DType: "F16", Shape: []int{3}, Data: data},
		{Name: "b", DType: "BF16", Shape: []int{1, 1}, Data: []byte{0x80, 0x3f}},
		{Name: "c", DType: "F32", Shape: []int{0, 5}},
	})
	f.Add(w.Bytes())
	f.Add(build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,16]}}`, 16))
	f.Add(build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12))
	f.Add(build(`{"__metadata__":{"format":"pt"}}`, 0))
	f.Add(build(`{"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}  `, 8))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<62))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := Parse(bytes.NewReader(b), int64(len(b)), "fuzz")
		if err != nil {
			return
		}
		for name, tn := range sf.Tensors {
			if tn.Begin < 0 || tn.End < tn.Begin || sf.DataStart+tn.End > int64(len(b)) {
				t.Fatalf("%s: range [%d, %d] outside the file", name, tn.Begin, tn.End)
			}
			if int64(tn.Numel()*DTypeSize(tn.DType)) != tn.End-tn.Begin {
				t.Fatalf("%s: size does not match shape", name)
			}
			if _, ok := decoders[tn.DType]; ok {
				if _, err := sf.Float32(name); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		}
	})
}
