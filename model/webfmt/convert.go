package webfmt

import (
	"context"
	"fmt"
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
// gpt2.(*Model).Quantize quantises the checkpoint's F32 model: memory holds
// one parameter (at most wte) in F32 and quantised, never the whole model.
// configJSON is the checkpoint's config.json, or nil; the configuration
// comes from the tensor shapes and n_head from configJSON or else GPT-2's
// 64-wide heads, as weights.ConfigFromShapes has it. Shards and
// manifest.json are written under temporary names and renamed into place,
// the manifest last. progress, if not nil, is called with the bytes written
// so far and the total.
func Convert(ctx context.Context, src *safetensors.File, configJSON []byte, outDir string, progress func(done, total int64)) error {
	c, err := weights.ConfigFromShapes(src, configJSON)
	if err != nil {
		return err
	}
	return convert(ctx, c, checkpointSource(src), outDir, MaxShardSize, progress)
}

// ConvertModel converts an in-memory model to the web format in outDir, as
// Convert does. Its matrices are F32, quantised as gpt2.(*Model).Quantize
// quantises them, or already quantised as Quantize returns them (Q9 block
// matrices, Q8 wte, both with float16 scales), and then stored as they are:
// ConvertModel(m) and ConvertModel(m.Quantize()) write the same files.
func ConvertModel(m *gpt2.Model, outDir string, progress func(done, total int64)) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("webfmt: %w", err)
	}
	return convert(context.Background(), m.Config, modelSource(m), outDir, MaxShardSize, progress)
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
func convert(ctx context.Context, c gpt2.Config, src source, outDir string, maxShard int64, progress func(done, total int64)) (err error) {
	if err := validateConfig(c); err != nil {
		return err
	}
	ts, sizes, err := layout(c, maxShard)
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
			if data, err = encode(p, mat); err != nil {
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
	m := &Manifest{Format: FormatName, Version: Version, Config: c, Q8Block: tensor.Q8Block, Q9Block: tensor.Q9Block, Shards: shards, Tensors: ts}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("webfmt: internal error: %w", err)
	}
	if err := writeManifest(outDir, m); err != nil {
		return fmt.Errorf("webfmt: writing %s: %w", outDir, err)
	}
	return nil
}

// encode returns the bytes of the tensors that store the matrix parameter
// p (p.stored()), quantising an F32 matrix as gpt2.(*Model).Quantize does.
func encode(p param, m tensor.Matrix) ([][]byte, error) {
	var f *tensor.F32
	switch m := m.(type) {
	case *tensor.F32:
		f = m
	case *tensor.Q9:
		if p.kind == q9 {
			return encodeQ9(p, m)
		}
	case *tensor.Q8:
		if p.kind == q8 {
			return encodeQ8(p, m)
		}
	}
	if f == nil {
		return nil, fmt.Errorf("webfmt: %s: a %T cannot be stored (want a float32 matrix, or the type gpt2.(*Model).Quantize gives it)", p.Name, m)
	}
	switch p.kind {
	case q9:
		return encodeQ9(p, tensor.QuantizeQ9(f))
	case q8:
		return encodeQ8(p, tensor.QuantizeMSE(f))
	}
	b, _ := float16Bytes(f.Data, false) // rounded to nearest, as tensor.RoundF16
	return [][]byte{b}, nil
}

func encodeQ9(p param, q *tensor.Q9) ([][]byte, error) {
	s, err := float16Bytes(q.Scales, true)
	if err != nil {
		return nil, fmt.Errorf("webfmt: %s: scale %w", p.Name, err)
	}
	return [][]byte{int8Bytes(q.Hi), q.Lo, s}, nil
}

func encodeQ8(p param, q *tensor.Q8) ([][]byte, error) {
	s, err := float16Bytes(q.Scales, true)
	if err != nil {
		return nil, fmt.Errorf("webfmt: %s: scale %w (quantised with tensor.Quantize rather than QuantizeMSE?)", p.Name, err)
	}
	return [][]byte{int8Bytes(q.Q), s}, nil
}
