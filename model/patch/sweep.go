package patch

import (
	"context"
	"fmt"
	"math"

	"github.com/patchlab/patchlab/model/gpt2"
)

var nan = math.NaN()

// Site is what a sweep patches. Z is one head's result: at every position
// at once (a layers × heads matrix) or, with PerPosition, one position at a
// time (a (layers·heads) × positions matrix, row L·Heads+h).
type Site struct {
	Kind        gpt2.SiteKind
	PerPosition bool
}

func (s Site) String() string {
	if s.Kind == gpt2.Z && s.PerPosition {
		return "z_per_position"
	}
	return s.Kind.String()
}

// Sites is every site a sweep can patch, in the order the CLI and the page
// present them.
var Sites = []Site{
	{Kind: gpt2.ResidPost}, {Kind: gpt2.Embed}, {Kind: gpt2.AttnOut}, {Kind: gpt2.MLPOut},
	{Kind: gpt2.Z}, {Kind: gpt2.Z, PerPosition: true},
}

// ParseSite reads a site by its name (Site.String): embed, resid_post,
// attn_out, mlp_out, z (each head at every position) or z_per_position.
func ParseSite(name string) (Site, error) {
	for _, s := range Sites {
		if s.String() == name {
			return s, nil
		}
	}
	return Site{}, fmt.Errorf("unknown site %q (want one of embed, resid_post, attn_out, mlp_out, z, z_per_position)", name)
}

// Shape is the size of the site's matrix: embed is one row of positions;
// resid_post, attn_out and mlp_out are layers × positions.
func (s *Session) Shape(site Site) (rows, cols int) {
	m := s.Model
	switch {
	case site.Kind == gpt2.Embed:
		return 1, s.T()
	case site.Kind == gpt2.Z && site.PerPosition:
		return m.Layers * m.Heads, s.T()
	case site.Kind == gpt2.Z:
		return m.Layers, m.Heads
	}
	return m.Layers, s.T()
}

// Matrix is a finished sweep: one Cell per (row, column), row-major.
type Matrix struct {
	Site       Site
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
}

// Sweep patches every cell of the site's matrix, calling onCell (may be nil)
// as each finishes, row by row. It stops with ctx's error when ctx is done.
//
// A patch at layer L, position p cannot change layers ≤ L or positions < p,
// so each cell recomputes only blocks after L for positions p onward, reading
// earlier positions' keys and values from the corrupted run; the last block
// runs only the last position and the metric reads only the targets' rows of
// the unembedding. Cells whose value is known in advance need no compute.
// A row's cells run in batches (one, unless the text is long), so each
// weight matrix is read once a batch.
func (s *Session) Sweep(ctx context.Context, site Site, opt Options, onCell func(r, c int, cell Cell)) (*Matrix, error) {
	if site.Kind > gpt2.Z || (site.PerPosition && site.Kind != gpt2.Z) {
		return nil, fmt.Errorf("unknown site %v", site)
	}
	rows, cols := s.Shape(site)
	mx := &Matrix{Site: site, Rows: rows, Cols: cols, Cells: make([]Cell, rows*cols)}
	todo := opt.Rows
	if todo == nil {
		for r := 0; r < rows; r++ {
			todo = append(todo, r)
		}
	}
	base := [2]Cell{s.CorruptedBase, s.CleanBase}
	if !opt.Probs {
		base[0].LSE, base[1].LSE = nan, nan
	}
	for _, r := range todo {
		if r < 0 || r >= rows {
			return nil, fmt.Errorf("row %d out of range (0…%d)", r, rows-1)
		}
		if err := s.sweepRow(ctx, mx, r, base, opt.Probs); err != nil {
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

// sweepRow fills row r of mx: the known cells from base (corrupted, clean),
// the others computed in batches.
func (s *Session) sweepRow(ctx context.Context, mx *Matrix, r int, base [2]Cell, probs bool) error {
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
		if site.Kind == gpt2.Z && !site.PerPosition {
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
// the corrupted run, 1 for the clean run, −1 when it must be computed.
func (s *Session) known(site Site, r, c int) int {
	last, T := s.Model.Layers-1, s.T()
	if site.Kind == gpt2.Z && !site.PerPosition {
		if s.FirstDiff == T {
			return 0
		}
		return -1
	}
	layer, p := r, c
	if site.Kind == gpt2.Z {
		layer = r / s.Model.Heads
	}
	switch {
	case p < s.FirstDiff: // the clean and corrupted activations are equal here
		return 0
	case site.Kind == gpt2.ResidPost && layer == last && p == T-1:
		return 1
	case site.Kind != gpt2.Embed && layer == last && p < T-1: // nothing reads it
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
// of the corrupted run's rows at that layer, with the patched rows changed.
func (s *Session) startOf(site Site, r, c int) start {
	m, cl, co := s.Model, s.Clean, s.Corrupted
	C, T := m.Width, s.T()
	st := start{col: c, layer: r, from: c}
	switch {
	case site.Kind == gpt2.Embed:
		st.layer = -1
	case site.Kind == gpt2.Z && !site.PerPosition:
		st.from = s.FirstDiff
	case site.Kind == gpt2.Z:
		st.layer = r / m.Heads
	}
	L, p := st.layer, st.from
	st.x = make([]float32, (T-p)*C)
	if L < 0 {
		copy(st.x, co.Embed[p*C:])
	} else {
		copy(st.x, co.Resid[L][p*C:])
	}
	row := func(a []float32, p int) []float32 { return a[p*C : (p+1)*C] }
	switch site.Kind {
	case gpt2.Embed:
		copy(st.x, row(cl.Embed, p))
	case gpt2.ResidPost:
		copy(st.x, row(cl.Resid[L], p))
	case gpt2.AttnOut:
		mid := make([]float32, C)
		addTo(mid, row(co.ResidPre(L), p), row(cl.AttnOut[L], p))
		m.MLPResidual(L, st.x, mid, 1)
	case gpt2.MLPOut:
		mid := make([]float32, C)
		addTo(mid, row(co.ResidPre(L), p), row(co.AttnOut[L], p))
		addTo(st.x[:C], mid, row(cl.MLPOut[L], p))
	case gpt2.Z:
		h, n := c, T-p
		if site.PerPosition {
			h, n = r%m.Heads, 1
		}
		d := m.HeadDim()
		z := make([]float32, n*C)
		copy(z, co.Z[L][p*C:(p+n)*C])
		for i := 0; i < n; i++ {
			copy(z[i*C+h*d:i*C+(h+1)*d], cl.Z[L][(p+i)*C+h*d:(p+i)*C+(h+1)*d])
		}
		mid := make([]float32, n*C)
		m.AttnProj(L, mid, z, n)
		addTo(mid, co.ResidPre(L)[p*C:(p+n)*C], mid)
		m.MLPResidual(L, st.x, mid, n)
	}
	return st
}

func addTo(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// finish runs the cells' states (all at one layer) through the remaining
// blocks as one batch and measures each at its last position.
func (s *Session) finish(ctx context.Context, starts []start, probs bool) ([]Cell, error) {
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
		st.Segs = append(st.Segs, gpt2.Segment{Start: c.from, Len: T - c.from, Base: s.Corrupted})
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
