package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// NamedTensor is a tensor to write: Data is little-endian, len(Data) must be
// DTypeSize(DType) times the product of Shape.
type NamedTensor struct {
	Name, DType string
	Shape       []int
	Data        []byte
}

// Write writes tensors as a safetensors file: header names sorted, data in
// the same order, the header padded with spaces to a multiple of 8 bytes so
// the data section is aligned (as Hugging Face's writer does).
func Write(w io.Writer, tensors []NamedTensor) error {
	return WriteWithMetadata(w, nil, tensors)
}

// WriteWithMetadata is Write with a "__metadata__" entry (omitted when nil).
func WriteWithMetadata(w io.Writer, metadata map[string]string, tensors []NamedTensor) error {
	type entry struct {
		DType   string   `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	sorted := slices.SortedFunc(slices.Values(tensors), func(a, b NamedTensor) int { return cmp.Compare(a.Name, b.Name) })
	header := map[string]any{}
	if metadata != nil {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, t := range sorted {
		if err := checkNamed(t); err != nil {
			return err
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return fmt.Errorf("safetensors: write: tensor %q given twice", t.Name)
		}
		shape := append([]int{}, t.Shape...) // [] rather than null for a scalar
		header[t.Name] = entry{t.DType, shape, [2]int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	js.Truncate(js.Len() - 1) // Encode's newline
	js.Write(bytes.Repeat([]byte(" "), (8-js.Len()%8)%8))

	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(js.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(js.Bytes()); err != nil {
		return err
	}
	for _, t := range sorted {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

func checkNamed(t NamedTensor) error {
	size := DTypeSize(t.DType)
	if t.Name == "__metadata__" {
		return fmt.Errorf("safetensors: write: %q is reserved", t.Name)
	}
	if size == 0 {
		return fmt.Errorf("safetensors: write: tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	shape := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		shape[i] = int64(d)
	}
	n, err := numel(shape)
	if err != nil {
		return fmt.Errorf("safetensors: write: tensor %q: shape %v: %v", t.Name, t.Shape, err)
	}
	if int64(len(t.Data))%int64(size) != 0 || int64(len(t.Data))/int64(size) != n {
		return fmt.Errorf("safetensors: write: tensor %q: %s shape %v needs %d×%d bytes, got %d",
			t.Name, t.DType, t.Shape, n, size, len(t.Data))
	}
	return nil
}
