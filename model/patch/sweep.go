package patch

import (
	"context"
	"fmt"
	"math"

	"github.com/patchlab/patchlab/model/gpt2"
)

var nan = math.NaN()

// Shape is the size of the site's matrix in this session.
func (s *Session) Shape(site Site) (rows, cols int) {
	l := site.Layout(s.Model.Config, s.T())
	return l.Rows, l.Cols
}

// Matrix is a finished sweep: one Cell per (row, column), row-major.
type Matrix struct {
	Site       Site
	Direction  Direction
	Rows, Cols int
	Cells      []Cell
}

// Values applies a metric to every cell.
func (s *Session) Values(mx *Matrix, m Metric) ([]float64, error) {
	out := make([]float64, len(mx.Cells))
	for i, c := range mx.Cells {
		v, err := m.Value(c, s.CleanBase, s.CorruptedBase)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Options tune a sweep.
type Options struct {
	// Probs computes each cell's log-sum-exp over the vocabulary, which
	// ProbDiff needs (it costs a full unembedding per cell).
	Probs bool
	// Rows limits the sweep to these rows (nil: all); the others stay zero.
	Rows []int
	// Direction is which run is patched: the corrupted one (Denoise, the
	// default) or the clean one (Noise).
	Direction Direction
}

// pass is a session seen from one direction: the run being patched (base)
// and the run that gives the activation (donor).
type pass struct {
	*Session
	base, donor         *gpt2.Trace
	baseCell, donorCell Cell
}

func (s *Session) pass(d Direction) *pass {
	if d == Noise {
		return &pass{s, s.Clean, s.Corrupted, s.CleanBase, s.CorruptedBase}
	}
	return &pass{s, s.Corrupted, s.Clean, s.CorruptedBase, s.CleanBase}
}

// Sweep patches every cell of the site's matrix, calling onCell (may be nil)
// as each finishes, row by row. It stops with ctx's error when ctx is done.
//
// The run patched is the corrupted one when denoising (the default), the
// clean one when noising; the other run gives the activation. A patch at
// layer L, position p cannot change layers ≤ L or positions < p,
// so each cell recomputes only blocks after L for positions p onward, reading
// earlier positions' keys and values from the patched run; the last block
// runs only the last position and the metric reads only the targets' rows of
// the unembedding. Cells whose value is known in advance need no compute.
// A row's cells run in batches (one, unless the text is long), so each
// weight matrix is read once a batch.
func (s *Session) Sweep(ctx context.Context, site Site, opt Options, onCell func(r, c int, cell Cell)) (*Matrix, error) {
	if !site.valid() {
		return nil, fmt.Errorf("unknown site %v", site)
	}
	if opt.Direction != Denoise && opt.Direction != Noise {
		return nil, fmt.Errorf("unknown direction %v", opt.Direction)
	}
	p := s.pass(opt.Direction)
	rows, cols := s.Shape(site)
	mx := &Matrix{Site: site, Direction: opt.Direction, Rows: rows, Cols: cols, Cells: make([]Cell, rows*cols)}
	todo := opt.Rows
	if todo == nil {
		for r := 0; r < rows; r++ {
			todo = append(todo, r)
		}
	}
	base := [2]Cell{p.baseCell, p.donorCell}
	if !opt.Probs {
		base[0].LSE, base[1].LSE = nan, nan
	}
	for _, r := range todo {
		if r < 0 || r >= rows {
			return nil, fmt.Errorf("row %d out of range (0…%d)", r, rows-1)
		}
		if err := p.sweepRow(ctx, mx, r, base, opt.Probs); err != nil {
			return nil, err
		}
		if onCell != nil {
			for c := 0; c < cols; c++ {
				onCell(r, c, mx.Cells[r*cols+c])
			}
		}
	}
	return mx, nil
}

// sweepRow fills row r of mx: the known cells from base (patched run,
// donor run), the others computed in batches.
func (s *pass) sweepRow(ctx context.Context, mx *Matrix, r int, base [2]Cell, probs bool) error {
	cells := mx.Cells[r*mx.Cols : (r+1)*mx.Cols]
	var pending []int
	for c := range cells {
		if k := s.known(mx.Site, r, c); k >= 0 {
			cells[c] = base[k]
		} else {
			pending = append(pending, c)
		}
	}
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := s.batchSize(mx.Site, pending)
		starts := make([]start, n)
		for i, c := range pending[:n] {
			starts[i] = s.startOf(mx.Site, r, c)
		}
		done, err := s.finish(ctx, starts, probs)
		if err != nil {
			return err
		}
		for i, st := range starts {
			cells[st.col] = done[i]
		}
		pending = pending[n:]
	}
	return nil
}

// maxBatchRows bounds the residual rows one batch of cells carries through
// the blocks. A row of a long text's heatmap has T cells of up to T rows
// each, so batching a whole row would take memory quadratic in T; past a few
// hundred rows a bigger batch no longer reads the weights noticeably less
// often. Batches never change results: the kernels give the same bits for
// any batch.
const maxBatchRows = 512

// batchSize is how many of the columns cols (in order) the next batch takes:
// as many as fit maxBatchRows, at least one.
func (s *Session) batchSize(site Site, cols []int) int {
	rows := 0
	for i, c := range cols {
		from := c
		if site.Spec().HeadColumns {
			from = s.FirstDiff
		}
		rows += s.T() - from
		if rows > maxBatchRows && i > 0 {
			return i
		}
	}
	return len(cols)
}

// known says whether cell (r, c) equals a baseline without compute: 0 for
// the patched run, 1 for the donor run, −1 when it must be computed.
func (s *pass) known(site Site, r, c int) int {
	last, T := s.Model.Layers-1, s.T()
	if site.Spec().HeadColumns { // every position from the first difference on
		if s.FirstDiff == T {
			return 0
		}
		return -1
	}
	layer, p := site.layerOf(r, s.Model.Heads), c
	switch {
	case p < s.FirstDiff: // the clean and corrupted activations are equal here
		return 0
	case site.Kind == gpt2.ResidPost && layer == last && p == T-1: // the final residual itself
		return 1
	case layer == last && p < T-1: // nothing reads it
		return 0
	}
	return -1
}

// start is one cell's patched state: the output rows of block layer (−1:
// the embedding) for positions from..T−1, which the remaining blocks finish.
type start struct {
	col, layer, from int
	x                []float32
}

// startOf computes the state a patch at cell (r, c) leaves behind: the rest
// of the patched run's rows at that layer, with the patched rows changed
// by the site's patch function.
func (s *pass) startOf(site Site, r, c int) start {
	C, T := s.Model.Width, s.T()
	st := start{col: c, layer: site.layerOf(r, s.Model.Heads), from: c}
	if site.Spec().HeadColumns {
		st.from = s.FirstDiff
	}
	st.x = make([]float32, (T-st.from)*C)
	copy(st.x, s.base.ResidAfter(st.layer)[st.from*C:])
	site.Spec().patch(s, &st, r, c)
	return st
}

// The patch functions, one per site of the table. Each replaces, in the
// patched run, one activation by the donor run's and recomputes what
// follows it inside the patched block.

func patchEmbed(s *pass, st *start, _, _ int) {
	copy(st.x, s.row(s.donor.Embed, st.from))
}

func patchResidPost(s *pass, st *start, _, _ int) {
	copy(st.x, s.row(s.donor.Resid[st.layer], st.from))
}

func patchAttnOut(s *pass, st *start, _, _ int) {
	L, p := st.layer, st.from
	mid := make([]float32, s.Model.Width)
	gpt2.Add(mid, s.row(s.base.ResidPre(L), p), s.row(s.donor.AttnOut[L], p))
	s.Model.MLPResidual(L, st.x, mid, 1)
}

func patchMLPOut(s *pass, st *start, _, _ int) {
	L, p := st.layer, st.from
	mid := make([]float32, s.Model.Width)
	gpt2.Add(mid, s.row(s.base.ResidPre(L), p), s.row(s.base.AttnOut[L], p))
	gpt2.Add(st.x[:len(mid)], mid, s.row(s.donor.MLPOut[L], p))
}

func patchHeadEverywhere(s *pass, st *start, _, c int) { s.patchHead(st, c, s.T()-st.from) }
func patchHeadAt(s *pass, st *start, r, _ int)         { s.patchHead(st, r%s.Model.Heads, 1) }

// patchHead patches head h's slice of z at n positions from st.from on.
func (s *pass) patchHead(st *start, h, n int) {
	m, L, p := s.Model, st.layer, st.from
	C, d := m.Width, m.HeadDim()
	z := make([]float32, n*C)
	copy(z, s.base.Z[L][p*C:(p+n)*C])
	for i := 0; i < n; i++ {
		copy(z[i*C+h*d:i*C+(h+1)*d], s.donor.Z[L][(p+i)*C+h*d:(p+i)*C+(h+1)*d])
	}
	mid := make([]float32, n*C)
	m.AttnProj(L, mid, z, n)
	gpt2.Add(mid, s.base.ResidPre(L)[p*C:(p+n)*C], mid)
	m.MLPResidual(L, st.x, mid, n)
}

// row is position p's row of a [T][Width] activation.
func (s *Session) row(a []float32, p int) []float32 {
	C := s.Model.Width
	return a[p*C : (p+1)*C]
}

// finish runs the cells' states (all at one layer) through the remaining
// blocks as one batch and measures each at its last position.
func (s *pass) finish(ctx context.Context, starts []start, probs bool) ([]Cell, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	m, C, T := s.Model, s.Model.Width, s.T()
	layer := starts[0].layer
	st := &gpt2.Stream{}
	for _, c := range starts {
		if c.layer != layer {
			panic("patch: finish: cells of different layers in one batch")
		}
		st.X = append(st.X, c.x...)
		st.Segs = append(st.Segs, gpt2.Segment{Start: c.from, Len: T - c.from, Base: s.base})
	}
	for l := layer + 1; l < m.Layers; l++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.Block(l, st, nil, nil, l == m.Layers-1)
	}
	// Each segment's last row (already one row per segment past the last block).
	last := make([]float32, 0, len(starts)*C)
	r0 := 0
	for _, g := range st.Segs {
		last = append(last, st.X[(r0+g.Len-1)*C:(r0+g.Len)*C]...)
		r0 += g.Len
	}
	n := len(starts)
	cells := make([]Cell, n)
	if probs {
		// The whole vocabulary's logits, a few cells at a time (a cell's are
		// 200 kB for GPT-2).
		const chunk = 8
		for i := 0; i < n; i += chunk {
			k := min(chunk, n-i)
			logits := m.Logits(last[i*C:(i+k)*C], k)
			for j := range k {
				cells[i+j] = s.cellOf(logits[j*m.Vocab:(j+1)*m.Vocab], true)
			}
		}
		return cells, nil
	}
	two := m.LogitsOf(last, n, []int{s.CleanTarget, s.CorruptedTarget})
	for i := range cells {
		cells[i] = Cell{Clean: two[2*i], Corrupted: two[2*i+1], LSE: nan}
	}
	return cells, nil
}
