package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/inspect"
)

// The views that look inside the started analysis's two runs (package
// inspect): attention patterns, the logit lens and the direct logit
// attribution. They read the runs Start made; nothing is run again.

// RunViews is what the page draws at once of one run: the lens metric
// [L+1][T] and the DLA. Its attention patterns travel beside it as packed
// float32 (EncodeAttention).
type RunViews struct {
	Run    string       `json:"run"` // "clean" or "corrupted"
	Layers int          `json:"layers"`
	Heads  int          `json:"heads"`
	T      int          `json:"positions"`
	Lens   [][]float64  `json:"logit_lens"`
	DLA    *inspect.DLA `json:"dla"`
}

// LensRow is the top-1 token of every position of one row of the lens.
type LensRow struct {
	Run    string   `json:"run"`
	Row    int      `json:"row"`
	IDs    []int    `json:"ids"`
	Tokens []string `json:"tokens"` // the ids decoded
}

// ErrOtherTexts is the failure of a view asked of texts other than those
// started: the texts were run again meanwhile (of kind "cancelled").
var ErrOtherTexts = fmt.Errorf("the texts changed: run them again to look inside (%w)", context.Canceled)

// trace is the run of that name of the started analysis, which must be
// req's: a view is never computed from other texts than the page asked for.
func (e *Engine) trace(req analysis.Request, run string) (*gpt2.Trace, error) {
	if e.an == nil {
		return nil, errors.New("no analysis is started")
	}
	if e.an.Request != req {
		return nil, ErrOtherTexts
	}
	switch run {
	case "clean":
		return e.an.Session.Clean, nil
	case "corrupted":
		return e.an.Session.Corrupted, nil
	}
	return nil, fmt.Errorf("unknown run %q (clean or corrupted)", run)
}

// Inspect computes, of the started analysis of req, one run's attention patterns (packed, EncodeAttention),
// lens metric and direct logit attribution.
func (e *Engine) Inspect(req analysis.Request, run string) (*RunViews, []byte, error) {
	tr, err := e.trace(req, run)
	if err != nil {
		return nil, nil, err
	}
	m, s := e.model, e.an.Session
	v := inspect.Inspect(m, tr, inspect.Targets{Clean: s.CleanTarget, Corrupted: s.CorruptedTarget})
	return &RunViews{Run: run, Layers: m.Layers, Heads: m.Heads, T: tr.T, Lens: v.Lens, DLA: v.DLA}, EncodeAttention(v.Attn), nil
}

// LensTop1 is the token lens row r of the run predicts at every position:
// a product with the whole unembedding per cell, so the page asks for a
// row at a time.
func (e *Engine) LensTop1(req analysis.Request, run string, r int) (*LensRow, error) {
	tr, err := e.trace(req, run)
	if err != nil {
		return nil, err
	}
	if r < 0 || r >= inspect.LensRows(e.model) {
		return nil, fmt.Errorf("lens row %d is outside 0…%d", r, inspect.LensRows(e.model)-1)
	}
	ids := inspect.LensTop1(e.model, tr, r, 0, tr.T)
	out := &LensRow{Run: run, Row: r, IDs: ids, Tokens: make([]string, len(ids))}
	for i, id := range ids {
		out.Tokens[i] = e.tok.DecodeToken(id)
	}
	return out, nil
}

// EncodeAttention packs patterns [L][H][T][T] as little-endian float32,
// row-major: [l][h][q][k] at ((l·H + h)·T + q)·T + k (a Float32Array).
func EncodeAttention(attn [][][][]float32) []byte {
	var b []byte
	for _, layer := range attn {
		for _, head := range layer {
			for _, row := range head {
				if b == nil {
					t := len(row)
					b = make([]byte, 0, 4*len(attn)*len(layer)*t*t)
				}
				for _, p := range row {
					b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p))
				}
			}
		}
	}
	return b
}

// DecodeAttention unpacks EncodeAttention's bytes of L layers, H heads and T positions.
func DecodeAttention(b []byte, L, H, T int) ([][][][]float32, error) {
	if len(b) != 4*L*H*T*T {
		return nil, fmt.Errorf("attention: %d bytes, want %d×%d×%d×%d float32", len(b), L, H, T, T)
	}
	out := make([][][][]float32, L)
	i := 0
	for l := range out {
		out[l] = make([][][]float32, H)
		for h := range out[l] {
			out[l][h] = make([][]float32, T)
			for q := range out[l][h] {
				out[l][h][q] = make([]float32, T)
				for k := range out[l][h][q] {
					out[l][h][q][k] = math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
					i += 4
				}
			}
		}
	}
	return out, nil
}
