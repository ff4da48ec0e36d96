package webfmt

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/weights"
)

// source yields one parameter, out-major: a matrix (p.Matrix) or a vector.
type source func(p param) (tensor.Matrix, []float32, error)

// Convert converts a Hugging Face GPT-2 checkpoint to the web format in
// outDir, one parameter at a time, quantised exactly as
// Quantize(m, bits) quantises the checkpoint's F32 model: memory holds
// one parameter (at most wte) in F32 and quantised, never the whole model.
// configJSON is the checkpoint's config.json, or nil; the configuration
// comes from the tensor shapes and n_head from configJSON or else GPT-2's
// 64-wide heads, as weights.ConfigFromShapes has it. Shards and
// manifest.json are written under temporary names and renamed into place,
// the manifest last. progress, if not nil, is called with the bytes written
// so far and the total.
func Convert(ctx context.Context, src *safetensors.File, configJSON []byte, outDir string, bits int, progress func(done, total int64)) error {
	r, err := weights.NewReader(src, configJSON)
	if err != nil {
		return err
	}
	return convert(ctx, r.Config, bits, nil, readerSource(r), outDir, MaxShardSize, progress)
}

// readerSource yields the parameters of a checkpoint.
func readerSource(r *weights.Reader) source {
	return func(p param) (tensor.Matrix, []float32, error) { return r.Param(p.Param) }
}

// ConvertModel converts an in-memory model to the web format in outDir, as
// Convert does. Its matrices are F32, quantised as Quantize(m, bits)
// quantises them, or already quantised as Quantize returns them (QN
// codes of that width, float16 steps), and then stored as they are:
// ConvertModel(m, bits) and ConvertModel(Quantize(m, bits), bits) write the
// same files. cal, if not nil, goes into the manifest.
func ConvertModel(m *gpt2.Model, bits int, cal *Calibration, outDir string, progress func(done, total int64)) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("webfmt: %w", err)
	}
	return convert(context.Background(), m.Config, bits, cal, modelSource(m), outDir, MaxShardSize, progress)
}

// modelSource yields the parameters of m.
func modelSource(m *gpt2.Model) source {
	return func(p param) (tensor.Matrix, []float32, error) {
		if p.Matrix {
			return *p.Mat(m), nil, nil
		}
		return nil, *p.Vec(m), nil
	}
}

// convert writes the model src yields, in shards of at most maxShard bytes.
func convert(ctx context.Context, c gpt2.Config, bits int, cal *Calibration, src source, outDir string, maxShard int64, progress func(done, total int64)) (err error) {
	if err := validateConfig(c); err != nil {
		return err
	}
	if err := CheckBits(bits); err != nil {
		return fmt.Errorf("webfmt: %d-bit codes: %w", bits, err)
	}
	ts, sizes, err := layout(c, bits, maxShard)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("webfmt: %w", err)
	}
	w := newShardWriter(outDir, sizes, progress)
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	next := ts
	for _, p := range params(c) {
		if err := ctx.Err(); err != nil {
			return err
		}
		mat, vec, err := src(p)
		if err != nil {
			return err
		}
		switch {
		case p.Matrix && (mat == nil || mat.Rows() != p.rows() || mat.Cols() != p.cols()):
			return fmt.Errorf("webfmt: %s: want a %d×%d matrix", p.Name, p.rows(), p.cols())
		case !p.Matrix && len(vec) != p.rows():
			return fmt.Errorf("webfmt: %s: %d values, want %d", p.Name, len(vec), p.rows())
		case p.Matrix:
			var data [][]byte
			if data, err = encode(p, mat, bits); err != nil {
				return err
			}
			for _, d := range data {
				if err = w.write(next[0], d); err != nil {
					break
				}
				next = next[1:]
			}
		default:
			err = w.write(next[0], float32Bytes(vec))
			next = next[1:]
		}
		if err != nil {
			return fmt.Errorf("webfmt: writing %s: %w", outDir, err)
		}
	}
	shards, err := w.commit()
	if err != nil {
		return fmt.Errorf("webfmt: writing %s: %w", outDir, err)
	}
	m := &Manifest{Format: FormatName, Version: Version, Config: c, Bits: bits, QNBlock: tensor.QNBlock, Shards: shards, Tensors: ts, Calibration: cal}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("webfmt: internal error: %w", err)
	}
	if err := writeManifest(outDir, m); err != nil {
		return fmt.Errorf("webfmt: writing %s: %w", outDir, err)
	}
	return nil
}

// encode returns the bytes of the tensors that store the matrix parameter
// p (p.stored()) in a model whose block matrices have codes of the given
// width, quantising an F32 matrix as Quantize does.
func encode(p param, m tensor.Matrix, bits int) ([][]byte, error) {
	if f, ok := m.(*tensor.F32); ok {
		if err := checkRange(p, f); err != nil {
			return nil, err
		}
		m = p.quantize(f, bits)
	}
	switch m := m.(type) {
	case *tensor.QN:
		if p.kind != qn {
			break
		}
		if m.Bits != p.bits(bits) {
			return nil, fmt.Errorf("webfmt: %s: %d-bit codes, want %d", p.Name, m.Bits, p.bits(bits))
		}
		return encodeQN(p, m)
	case *tensor.F32:
		if p.kind == f16 {
			b, _ := float16Bytes(m.Data, false) // float16 values already: exact
			return [][]byte{b}, nil
		}
	}
	return nil, fmt.Errorf("webfmt: %s: a %T cannot be stored (want a float32 matrix, or the type Quantize gives it)", p.Name, m)
}

func encodeQN(p param, q *tensor.QN) ([][]byte, error) {
	s, err := float16Bytes(q.Steps, true)
	if err != nil {
		return nil, fmt.Errorf("webfmt: %s: scale %w", p.Name, err)
	}
	if q.Bits == 8 {
		return [][]byte{int8Bytes(q.Hi), s}, nil
	}
	return [][]byte{int8Bytes(q.Hi), q.Lo, s}, nil
}

// Quantized returns the model Convert would write for a checkpoint, built
// in memory: Quantize(m, bits) of the checkpoint's float32
// model, read and quantised one tensor at a time so that at most one
// parameter is ever in float32. configJSON as for Convert.
func Quantized(ctx context.Context, src *safetensors.File, configJSON []byte, bits int) (*gpt2.Model, error) {
	r, err := weights.NewReader(src, configJSON)
	if err != nil {
		return nil, err
	}
	if err := CheckBits(bits); err != nil {
		return nil, fmt.Errorf("webfmt: %d-bit codes: %w", bits, err)
	}
	read := readerSource(r)
	m := &gpt2.Model{Config: r.Config, Blocks: make([]gpt2.Block, r.Config.Layers)}
	for _, p := range params(r.Config) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mat, vec, err := read(p)
		if err != nil {
			return nil, err
		}
		if !p.Matrix {
			*p.Vec(m) = vec
			continue
		}
		f := mat.(*tensor.F32) // a Reader's matrices are
		if err := checkRange(p, f); err != nil {
			return nil, err
		}
		*p.Mat(m) = p.quantize(f, bits)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("webfmt: %w", err)
	}
	return m, nil
}

// MaxWeight bounds the weights the format stores: the loader's limit.
const MaxWeight = weights.MaxWeight

// checkRange returns an error if a weight of p is not finite or beyond
// MaxWeight, which the codes would silently clip or zero.
func checkRange(p param, f *tensor.F32) error {
	for i, v := range f.Data {
		if !(math.Abs(float64(v)) <= MaxWeight) {
			return fmt.Errorf("webfmt: %s: weight %g at [%d][%d] is outside the web format's range (finite, |w| ≤ %g): a damaged checkpoint?", p.Name, v, i/f.C, i%f.C, MaxWeight)
		}
	}
	return nil
}
