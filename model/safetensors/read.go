package safetensors

// chunkBytes is the read buffer size: a multiple of every dtype size.
const chunkBytes = 1 << 18

// Float32 reads a tensor of dtype F32, F16, BF16 or F64 as float32.
func (f *File) Float32(name string) ([]float32, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, f.errorf("no tensor %q", name)
	}
	dst := make([]float32, t.Numel())
	if err := f.ReadFloat32(name, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadFloat32 is Float32 into dst, which must hold exactly the tensor's
// elements. It reads through a small buffer, so the only large allocation is
// the caller's.
func (f *File) ReadFloat32(name string, dst []float32) error {
	t, ok := f.Tensors[name]
	if !ok {
		return f.errorf("no tensor %q", name)
	}
	decode, ok := decoders[t.DType]
	switch {
	case !ok:
		return f.errorf("tensor %q: dtype %s is not a float type (want F32, F16, BF16 or F64)", name, t.DType)
	case len(dst) != t.Numel():
		return f.errorf("tensor %q: %d elements, destination holds %d", name, t.Numel(), len(dst))
	}
	size := int64(DTypeSize(t.DType))
	buf := make([]byte, min(t.End-t.Begin, chunkBytes))
	for off := int64(0); off < t.End-t.Begin; {
		b := buf[:min(int64(len(buf)), t.End-t.Begin-off)]
		if err := f.readAt(b, f.DataStart+t.Begin+off); err != nil {
			return f.errorf("tensor %q: %w", name, err)
		}
		decode(dst[off/size:(off+int64(len(b)))/size], b)
		off += int64(len(b))
	}
	return nil
}

// Bytes reads a tensor's raw little-endian data.
func (f *File) Bytes(name string) ([]byte, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, f.errorf("no tensor %q", name)
	}
	b := make([]byte, t.End-t.Begin)
	if err := f.readAt(b, f.DataStart+t.Begin); err != nil {
		return nil, f.errorf("tensor %q: %w", name, err)
	}
	return b, nil
}
