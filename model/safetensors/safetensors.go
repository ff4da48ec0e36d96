// Package safetensors reads and writes the safetensors tensor format: an
// 8-byte little-endian header length N, N bytes of JSON describing each tensor
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// offsets relative to the end of the header), then the tensor data.
//
// Every header field is checked against the file before it is used, so a
// corrupt or hostile file yields an error naming the file, never a panic or
// an allocation sized by an unchecked field.
package safetensors

import (
	"fmt"
	"io"
	"os"
	"slices"
)

// MaxHeaderSize bounds the JSON header (the reference implementation's limit).
const MaxHeaderSize = 100 << 20

// Tensor describes one tensor of a file.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	// Begin and End are the header's data_offsets: byte offsets relative to
	// File.DataStart.
	Begin, End int64
}

// Numel is the number of elements (1 for a scalar).
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file. Tensor data is read on demand.
type File struct {
	Path      string // the file's path, or the name given to Parse; used in errors
	Tensors   map[string]Tensor
	Metadata  map[string]string // the "__metadata__" object; nil when absent
	DataStart int64             // offset of the data section: 8 + header length

	r      io.ReaderAt
	size   int64
	closer io.Closer
}

// Open opens and parses the safetensors file at path.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := fd.Stat()
	if err == nil && st.IsDir() {
		err = fmt.Errorf("safetensors: %s: is a directory", path)
	}
	if err != nil {
		fd.Close()
		return nil, err
	}
	f, err := Parse(fd, st.Size(), path)
	if err != nil {
		fd.Close()
		return nil, err
	}
	f.closer = fd
	return f, nil
}

// Parse parses a safetensors file of size bytes read through r (a browser
// blob, a bytes.Reader, ...). name identifies the file in errors.
func Parse(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{Path: name, r: r, size: size}
	if err := f.parse(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close closes the underlying file if Open opened it.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: "+format, append([]any{f.Path}, args...)...)
}

// readAt fills p from offset off, treating a short read as an error.
func (f *File) readAt(p []byte, off int64) error {
	n, err := f.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}

// ImpliedSize is the file size the header implies: the header, then the
// data section up to the end of its last tensor. A download can stop there.
func (f *File) ImpliedSize() int64 {
	end := int64(0)
	for _, t := range f.Tensors {
		end = max(end, t.End)
	}
	return f.DataStart + end
}
