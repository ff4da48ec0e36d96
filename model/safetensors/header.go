package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

func (f *File) parse() error {
	if f.size < 8 {
		return f.errorf("file is %d bytes, too short for the 8-byte header length", f.size)
	}
	var lenBuf [8]byte
	if err := f.readAt(lenBuf[:], 0); err != nil {
		return f.errorf("header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n > MaxHeaderSize:
		return f.errorf("header length %d exceeds the %d-byte limit (not a safetensors file?)", n, MaxHeaderSize)
	case n > uint64(f.size-8):
		return f.errorf("header length %d exceeds the %d bytes that follow it (truncated file?)", n, f.size-8)
	}
	hdr := make([]byte, n)
	if err := f.readAt(hdr, 8); err != nil {
		return f.errorf("header: %w", err)
	}
	f.DataStart = 8 + int64(n)
	return f.parseHeader(hdr)
}

// parseHeader walks the top-level object token by token, so that duplicate
// names are caught and errors come in file order.
func (f *File) parseHeader(hdr []byte) error {
	if !utf8.Valid(hdr) {
		return f.errorf("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return f.errorf("header is not a JSON object")
	}
	f.Tensors = map[string]Tensor{}
	sawMetadata := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return f.errorf("invalid header JSON: %v", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return f.errorf("invalid header JSON at %q: %v", name, err)
		}
		if _, dup := f.Tensors[name]; dup || (sawMetadata && name == "__metadata__") {
			return f.errorf("header names %q twice", name)
		}
		if name == "__metadata__" {
			sawMetadata = true
			if err := json.Unmarshal(raw, &f.Metadata); err != nil {
				return f.errorf("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		t, err := f.parseTensor(name, raw)
		if err != nil {
			return err
		}
		f.Tensors[name] = t
	}
	if _, err := dec.Token(); err != nil {
		return f.errorf("invalid header JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return f.errorf("invalid header JSON: data after the closing brace")
	}
	return f.checkOverlap()
}

func (f *File) parseTensor(name string, raw json.RawMessage) (Tensor, error) {
	var e struct {
		DType   string   `json:"dtype"`
		Shape   *[]int64 `json:"shape"`
		Offsets *[]int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return Tensor{}, f.errorf("tensor %q: invalid entry: %v", name, err)
	}
	size := int64(DTypeSize(e.DType))
	switch {
	case size == 0:
		return Tensor{}, f.errorf("tensor %q: unknown dtype %q", name, e.DType)
	case e.Shape == nil:
		return Tensor{}, f.errorf("tensor %q: no shape", name)
	case e.Offsets == nil || len(*e.Offsets) != 2:
		return Tensor{}, f.errorf("tensor %q: data_offsets must be [begin, end]", name)
	}
	numel, err := numel(*e.Shape)
	if err != nil {
		return Tensor{}, f.errorf("tensor %q: shape %v: %v", name, *e.Shape, err)
	}
	begin, end := (*e.Offsets)[0], (*e.Offsets)[1]
	dataSize := f.size - f.DataStart
	switch {
	case begin < 0 || end < begin:
		return Tensor{}, f.errorf("tensor %q: data_offsets [%d, %d] are not a range", name, begin, end)
	case end > dataSize:
		return Tensor{}, f.errorf("tensor %q: data_offsets [%d, %d] run past the end of the %d-byte data section (truncated file?)",
			name, begin, end, dataSize)
	case (end-begin)%size != 0 || (end-begin)/size != numel:
		return Tensor{}, f.errorf("tensor %q: %s shape %v needs %d×%d bytes, data_offsets [%d, %d] hold %d",
			name, e.DType, *e.Shape, numel, size, begin, end, end-begin)
	}
	shape := make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		shape[i] = int(d)
	}
	return Tensor{Name: name, DType: e.DType, Shape: shape, Begin: begin, End: end}, nil
}

// numel multiplies out a shape, refusing negative dimensions and products
// that do not fit an int.
func numel(shape []int64) (int64, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, errors.New("negative dimension")
		}
		if d == 0 {
			return 0, nil
		}
	}
	n := int64(1)
	for _, d := range shape {
		if n > math.MaxInt/d {
			return 0, errors.New("element count overflows")
		}
		n *= d
	}
	return n, nil
}

func (f *File) checkOverlap() error {
	ts := make([]Tensor, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		if t.End > t.Begin {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), strings.Compare(a.Name, b.Name))
	})
	for i := 1; i < len(ts); i++ {
		if p, t := ts[i-1], ts[i]; t.Begin < p.End {
			return f.errorf("tensors %q [%d, %d] and %q [%d, %d] overlap", p.Name, p.Begin, p.End, t.Name, t.Begin, t.End)
		}
	}
	return nil
}
