package webfmt

import (
	"fmt"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// The quantisation policy: which parameter the format stores how.
//
//	wte, the block matrices   integer codes (tensor.QN): bits for the block
//	                          matrices, WTEBits(bits) for wte
//	wpe                       float16
//	LayerNorm, biases         float32

// MinBits and MaxBits bound the code width of the block matrices (wte's,
// one narrower, is then still at least tensor.MinBits).
const MinBits, MaxBits = tensor.MinBits + 1, tensor.MaxBits

// DefaultBits is the code width of the block matrices that fits GPT-2 small
// in about a quarter of its float32 size.
const DefaultBits = 9

// Uncalibrated is the width for a converter that cannot calibrate (the
// page's): the widest calibration (model/calib) has chosen for any model
// measured, 15 bits for a random GPT-2-small-shaped checkpoint (14 for
// gpt2.Random's, 13 for the tiny fixture).
const Uncalibrated = 15

// CheckBits returns an error saying which widths the format has, unless it
// has bits-bit codes for the block matrices. The message does not repeat
// bits: callers say whose width it is.
func CheckBits(bits int) error {
	if bits < MinBits || bits > MaxBits {
		return fmt.Errorf("want %d…%d", MinBits, MaxBits)
	}
	return nil
}

// WTEBits is the code width of wte when the block matrices have bits: one
// bit narrower, since wte is a third of GPT-2 small's weights and with it at
// 8 bits the model fits 0.26× of its float32 size.
func WTEBits(bits int) int { return max(bits-1, tensor.MinBits) }

// Quantize returns a copy of m with its weights as the web format stores
// them, bits being the block matrices' code width (see CheckBits; it panics
// on others). Matrices already quantised are kept, so the web format's own
// model quantises to itself.
func Quantize(m *gpt2.Model, bits int) *gpt2.Model {
	if err := CheckBits(bits); err != nil {
		panic(fmt.Sprintf("webfmt: Quantize: %d-bit codes: %v", bits, err))
	}
	out := *m
	out.Blocks = append([]gpt2.Block(nil), m.Blocks...)
	for _, p := range params(m.Config) {
		if p.kind == vector {
			continue
		}
		if f, ok := (*p.Mat(&out)).(*tensor.F32); ok {
			*p.Mat(&out) = p.quantize(f, bits)
		} // else already quantised
	}
	return &out
}

// kindOf is how the format stores p.
func kindOf(p gpt2.Param) kind {
	switch {
	case !p.Matrix:
		return vector
	case p.Conv1D || p.Name == "wte.weight":
		return qn
	default: // wpe
		return f16
	}
}

// bits is the code width of a coded parameter p in a model whose block
// matrices have bits-bit codes.
func (p param) bits(bits int) int {
	if p.Conv1D {
		return bits
	}
	return WTEBits(bits)
}

// quantize returns the float32 matrix p as Quantize stores it: codes of
// p.bits(bits) bits, or its values rounded to float16. f is not changed.
func (p param) quantize(f *tensor.F32, bits int) tensor.Matrix {
	if p.kind == qn {
		return tensor.QuantizeQN(f, p.bits(bits))
	}
	rounded := make([]float32, len(f.Data))
	for i, v := range f.Data {
		rounded[i] = tensor.RoundF16(v)
	}
	return tensor.NewF32(f.R, f.C, rounded)
}
