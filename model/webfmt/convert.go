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

// source yields one parameter, out-major: a matrix (p.mat != nil) or a vector.
type source func(p param) (tensor.Matrix, []float32, error)

// Convert converts a Hugging Face GPT-2 checkpoint to the web format in
// outDir, one parameter at a time: memory holds the largest parameter (wte)
// in F32 and int8, never the whole model. configJSON is the checkpoint's
// config.json, or nil; the configuration comes from the tensor shapes and
// n_head from configJSON or else GPT-2's 64-wide heads, as
// weights.ConfigFromShapes has it. Shards and manifest.json are written
// under temporary names and renamed into place, the manifest last. progress,
// if not nil, is called with the bytes written so far and the total.
func Convert(ctx context.Context, src *safetensors.File, configJSON []byte, outDir string, progress func(done, total int64)) error {
	c, err := weights.ConfigFromShapes(src, configJSON)
	if err != nil {
		return err
	}
	return convert(ctx, c, checkpointSource(src), outDir, MaxShardSize, progress)
}

// ConvertModel converts an in-memory model to the web format in outDir, as
// Convert does. Q8 matrices are stored as they are; other matrices are
// quantised.
func ConvertModel(m *gpt2.Model, outDir string, progress func(done, total int64)) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("webfmt: %w", err)
	}
	return convert(context.Background(), m.Config, modelSource(m), outDir, MaxShardSize, progress)
}

// modelSource yields the parameters of m.
func modelSource(m *gpt2.Model) source {
	byName := map[string]param{}
	for _, p := range params(m) {
		byName[p.name] = p
	}
	return func(p param) (tensor.Matrix, []float32, error) {
		if q := byName[p.name]; q.mat != nil {
			return *q.mat, nil, nil
		}
		return nil, *byName[p.name].vec, nil
	}
}

// convert writes the model src yields, in shards of at most maxShard bytes.
func convert(ctx context.Context, c gpt2.Config, src source, outDir string, maxShard int64, progress func(done, total int64)) (err error) {
	if err := configOf(c).validate(); err != nil {
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
	for _, p := range params(emptyModel(c)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		mat, vec, err := src(p)
		if err != nil {
			return err
		}
		switch {
		case p.mat != nil && (mat == nil || mat.Rows() != p.rows || mat.Cols() != p.cols):
			return fmt.Errorf("webfmt: %s: want a %d×%d matrix", p.name, p.rows, p.cols)
		case p.mat == nil && len(vec) != p.rows:
			return fmt.Errorf("webfmt: %s: %d values, want %d", p.name, len(vec), p.rows)
		case p.mat != nil:
			q := quantize(mat)
			err = w.write(next[0], int8Bytes(q.Q))
			if err == nil {
				err = w.write(next[1], float32Bytes(q.Scales))
			}
			next = next[2:]
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
	m := &Manifest{Format: FormatName, Version: Version, Config: configOf(c), Q8Block: tensor.Q8Block, Shards: shards, Tensors: ts}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("webfmt: internal error: %w", err)
	}
	if err := writeManifest(outDir, m); err != nil {
		return fmt.Errorf("webfmt: writing %s: %w", outDir, err)
	}
	return nil
}

// quantize returns m as Q8: itself if it is one, else quantised row by row.
func quantize(m tensor.Matrix) *tensor.Q8 {
	switch m := m.(type) {
	case *tensor.Q8:
		return m
	case *tensor.F32:
		return tensor.Quantize(m)
	}
	rows, cols, nb := m.Rows(), m.Cols(), m.Cols()/tensor.Q8Block
	q, s := make([]int8, rows*cols), make([]float32, rows*nb)
	row := make([]float32, cols)
	for r := range rows {
		m.Row(row, r)
		tensor.QuantizeRow(q[r*cols:(r+1)*cols], s[r*nb:(r+1)*nb], row)
	}
	return tensor.NewQ8(rows, cols, q, s)
}
