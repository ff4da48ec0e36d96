package safetensors

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

// build makes a file from a header and dataSize zero bytes of data.
func build(header string, dataSize int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataSize)...)
}

func parseBytes(b []byte) (*File, error) {
	return Parse(bytes.NewReader(b), int64(len(b)), "x.safetensors")
}

func TestParseErrors(t *testing.T) {
	lenOnly := func(n uint64, rest int) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), make([]byte, rest)...)
	}
	entry := func(dtype, shape, offsets string) string {
		return `{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"empty", nil, "too short"},
		{"header over limit", lenOnly(1<<40, 16), "limit"},
		{"header past end", lenOnly(100, 20), "truncated"},
		{"header max uint64", lenOnly(^uint64(0), 0), "limit"},
		{"invalid json", build(`{"a":`, 0), "invalid header JSON"},
		{"not an object", build(`[1, 2]`, 0), "not a JSON object"},
		{"trailing json", build(`{} {}`, 0), "after the closing brace"},
		{"not utf8", build("{\"\xff\":1}", 0), "UTF-8"},
		{"entry not object", build(`{"a":5}`, 0), "invalid entry"},
		{"unknown dtype", build(`{"a":`+entry("Q4", "[1]", "[0,1]")+`}`, 1), `unknown dtype "Q4"`},
		{"missing dtype", build(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, 4), "unknown dtype"},
		{"missing shape", build(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4), "no shape"},
		{"missing offsets", build(`{"a":{"dtype":"F32","shape":[1]}}`, 4), "data_offsets must be"},
		{"three offsets", build(`{"a":`+entry("F32", "[1]", "[0,4,8]")+`}`, 8), "data_offsets must be"},
		{"float dim", build(`{"a":`+entry("F32", "[1.5]", "[0,4]")+`}`, 4), "invalid entry"},
		{"negative dim", build(`{"a":`+entry("F32", "[-1, -4]", "[0,16]")+`}`, 16), "negative dimension"},
		{"shape overflow", build(`{"a":`+entry("F32", "[4294967296,4294967296,4]", "[0,16]")+`}`, 16), "overflows"},
		{"dim beyond int64", build(`{"a":`+entry("F32", "[18446744073709551616]", "[0,16]")+`}`, 16), "invalid entry"},
		{"offsets reversed", build(`{"a":`+entry("F32", "[1]", "[8,4]")+`}`, 8), "not a range"},
		{"offsets negative", build(`{"a":`+entry("F32", "[1]", "[-4,0]")+`}`, 8), "not a range"},
		{"offsets past end", build(`{"a":`+entry("F32", "[4]", "[0,16]")+`}`, 12), "past the end"},
		{"size mismatch", build(`{"a":`+entry("F32", "[2]", "[0,4]")+`}`, 4), "needs 2×4 bytes"},
		{"partial element", build(`{"a":`+entry("F32", "[1]", "[0,3]")+`}`, 4), "needs 1×4 bytes"},
		{"overlap", build(`{"a":`+entry("F32", "[2]", "[0,8]")+`,"b":`+entry("F32", "[2]", "[4,12]")+`}`, 12), "overlap"},
		{"same range", build(`{"a":`+entry("U8", "[4]", "[0,4]")+`,"b":`+entry("I8", "[4]", "[0,4]")+`}`, 4), "overlap"},
		{"duplicate", build(`{"a":`+entry("F32", "[1]", "[0,4]")+`,"a":`+entry("F32", "[1]", "[4,8]")+`}`, 8), "twice"},
		{"duplicate metadata", build(`{"__metadata__":{},"__metadata__":{}}`, 0), "twice"},
		{"metadata not strings", build(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseBytes(c.file)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), "x.safetensors") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want the file name and %q", err, c.want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	header := `{"__metadata__":{"format":"pt"},` +
		`"scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]},` +
		`"empty":{"dtype":"F16","shape":[0,7],"data_offsets":[4,4]},` +
		`"gap":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}}    `
	f, err := parseBytes(build(header, 24))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || len(f.Tensors) != 3 || f.DataStart != 8+int64(len(header)) {
		t.Fatalf("parsed %+v", f)
	}
	if s := f.Tensors["scalar"]; s.Numel() != 1 || len(s.Shape) != 0 {
		t.Errorf("scalar: %+v", s)
	}
	if v, err := f.Float32("empty"); err != nil || len(v) != 0 {
		t.Errorf("empty: %v, %v", v, err)
	}
	if IsFloat("I64") || !IsFloat("BF16") {
		t.Error("IsFloat")
	}
	if _, err := f.Float32("gap"); err == nil || !strings.Contains(err.Error(), "not a float type") {
		t.Errorf("I64 as float32: %v", err)
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `no tensor "nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	if got := f.Names(); strings.Join(got, ",") != "empty,gap,scalar" {
		t.Errorf("Names = %v", got)
	}
}

// shortReader claims a size it cannot deliver, like a file truncated after
// it was opened.
type shortReader struct{ b []byte }

func (r shortReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestReadTruncated(t *testing.T) {
	b := build(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 16)
	f, err := Parse(shortReader{b[:len(b)-3]}, int64(len(b)), "x.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("a"); err == nil || !strings.Contains(err.Error(), "x.safetensors") ||
		!strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("got %v", err)
	}
	if _, err := f.Bytes("a"); err == nil {
		t.Fatal("Bytes: no error")
	}
}

func TestReadChunked(t *testing.T) {
	// More than one read buffer, and an odd element count.
	v := make([]float32, chunkBytes/4*2+3)
	for i := range v {
		v[i] = float32(i) - 7.5
	}
	for _, dtype := range []string{"F32", "F16", "BF16", "F64"} {
		data, err := Encode(dtype, v)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, []NamedTensor{{Name: "v", DType: dtype, Shape: []int{len(v)}, Data: data}}); err != nil {
			t.Fatal(err)
		}
		f, err := parseBytes(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Float32("v")
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			want := v[i]
			if dtype == "F16" || dtype == "BF16" {
				want = decodeOne(dtype, data[2*i:])
			}
			if got[i] != want {
				t.Fatalf("%s: element %d = %v, want %v", dtype, i, got[i], want)
			}
		}
	}
}

func decodeOne(dtype string, b []byte) float32 {
	var v [1]float32
	decoders[dtype](v[:], b)
	return v[0]
}
