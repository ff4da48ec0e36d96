package safetensors

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestWriteRoundTrip(t *testing.T) {
	f32, _ := Encode("F32", []float32{1, 2, 3, 4, 5, 6})
	bf16, _ := Encode("BF16", []float32{-1, 0.5})
	in := []NamedTensor{
		{Name: "z.weight", DType: "F32", Shape: []int{2, 3}, Data: f32},
		{Name: "a<&>", DType: "BF16", Shape: []int{2}, Data: bf16},
		{Name: "ids", DType: "U8", Shape: []int{3}, Data: []byte{7, 8, 9}},
		{Name: "scalar", DType: "I32", Data: []byte{1, 0, 0, 0}},
	}
	var buf bytes.Buffer
	if err := WriteWithMetadata(&buf, map[string]string{"format": "pt"}, in); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	header := string(b[8 : 8+n])
	if n%8 != 0 || !strings.HasPrefix(header, `{"__metadata__":{"format":"pt"},"a<&>":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"ids"`) {
		t.Fatalf("header %q (length %d)", header, n)
	}
	if strings.TrimRight(header, " ") != strings.TrimSpace(header) || !strings.HasSuffix(strings.TrimRight(header, " "), "}") {
		t.Fatalf("header not space-padded: %q", header)
	}
	if !strings.Contains(header, `"scalar":{"dtype":"I32","shape":[],"data_offsets":[7,11]}`) {
		t.Fatalf("header %q", header)
	}
	f, err := parseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, nt := range in {
		got, err := f.Bytes(nt.Name)
		if err != nil || !bytes.Equal(got, nt.Data) {
			t.Errorf("%s: %v, %v", nt.Name, got, err)
		}
	}
	if v, err := f.Float32("z.weight"); err != nil || v[5] != 6 {
		t.Errorf("z.weight: %v, %v", v, err)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
}

func TestWriteEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if f, err := parseBytes(buf.Bytes()); err != nil || len(f.Tensors) != 0 || buf.Len() != 16 {
		t.Fatalf("%q: %v", buf.Bytes(), err)
	}
}

func TestWriteErrors(t *testing.T) {
	cases := map[string][]NamedTensor{
		"unknown dtype": {{Name: "a", DType: "F7", Shape: []int{1}, Data: []byte{0}}},
		"needs 2×4":     {{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}},
		"negative":      {{Name: "a", DType: "U8", Shape: []int{-1}}},
		"twice":         {{Name: "a", DType: "U8"}, {Name: "a", DType: "U8"}},
		"reserved":      {{Name: "__metadata__", DType: "U8", Shape: []int{0}}},
		"overflows":     {{Name: "a", DType: "U8", Shape: []int{1 << 40, 1 << 40}}},
	}
	for want, ts := range cases {
		for i := range ts {
			if ts[i].Data == nil && ts[i].Shape == nil {
				ts[i].Data = []byte{0}
			}
		}
		err := Write(&bytes.Buffer{}, ts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}
