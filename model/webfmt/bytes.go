package webfmt

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/patchlab/patchlab/model/tensor"
)

// The format is little-endian. On a little-endian machine (amd64, arm64,
// wasm) shard bytes are reinterpreted in place; elsewhere they are decoded.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// int8s views b as int8 values without copying.
func int8s(b []byte) []int8 {
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// int8Bytes views q as bytes without copying.
func int8Bytes(q []int8) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(q))), len(q))
}

// float32s views little-endian b as float32 values, without copying when b
// is 4-byte aligned and the machine is little-endian.
func float32s(b []byte) []float32 {
	p := unsafe.Pointer(unsafe.SliceData(b))
	if littleEndian && uintptr(p)%4 == 0 {
		return unsafe.Slice((*float32)(p), len(b)/4)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// float32Bytes returns v as little-endian bytes, a view of v when the
// machine is little-endian.
func float32Bytes(v []float32) []byte {
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// float16s decodes little-endian IEEE binary16 values to float32, exactly.
func float16s(b []byte) []float32 {
	v := make([]float32, len(b)/2)
	for i := range v {
		v[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return v
}

// float16Bytes encodes v as little-endian IEEE binary16, rounding each value
// to nearest even. With exact set, a value float16 cannot hold exactly is an
// error instead (NaNs are encoded as float16's quiet NaN).
func float16Bytes(v []float32, exact bool) ([]byte, error) {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		h := tensor.F32ToF16(x)
		if y := tensor.F16ToF32(h); exact && y != x && x == x {
			return nil, fmt.Errorf("value %v is not a float16 value", x)
		}
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return b, nil
}
