package gpt2

import (
	"errors"
	"fmt"
)

// Trace is what one run computed that patching reuses: the activation at
// every site and every layer's queries, keys and values; and, for runs of at
// most HiddenMaxT tokens, the MLPs' hidden values, which the backward pass
// and the neuron views read. A Trace is a copy: later runs cannot change it.
type Trace struct {
	T int
	Sites
	Q, K, V [][]float32 // [Layers](T, C)
	// Hidden is each MLP's input to GELU, [Layers](T, 4C), or nil for a
	// run longer than HiddenMaxT (readers then recompute it).
	Hidden [][]float32
}

// HiddenMaxT is the longest run whose trace keeps the MLPs' hidden values:
// 4·Width floats a layer and position, over a third of a trace (19 of
// 53 MB at 128 tokens on GPT-2 small, and a page worker holds two runs), so
// longer runs recompute them when asked instead.
const HiddenMaxT = 128

// Sites holds one [T][Width] vector per position at every site of a run:
// its activations (Trace) or their gradients (Grad).
type Sites struct {
	Embed                     []float32   // (T, C)
	Resid, AttnOut, MLPOut, Z [][]float32 // [Layers](T, C)
}

func newTrace(layers, t, c int) *Trace {
	tr := &Trace{T: t, Sites: Sites{Embed: make([]float32, t*c)}}
	for _, p := range []*[][]float32{&tr.Resid, &tr.AttnOut, &tr.MLPOut, &tr.Z, &tr.Q, &tr.K, &tr.V} {
		*p = make([][]float32, layers)
		for l := range *p {
			(*p)[l] = make([]float32, t*c)
		}
	}
	if t <= HiddenMaxT {
		tr.Hidden = make([][]float32, layers)
		for l := range tr.Hidden {
			tr.Hidden[l] = make([]float32, t*4*c)
		}
	}
	return tr
}

// Act is the vector at a site: the activation (Trace) or its gradient (Grad), (T, C).
func (ss *Sites) Act(s Site) []float32 {
	switch s.Kind {
	case Embed:
		return ss.Embed
	case ResidPost:
		return ss.Resid[s.Layer]
	case AttnOut:
		return ss.AttnOut[s.Layer]
	case MLPOut:
		return ss.MLPOut[s.Layer]
	case Z:
		return ss.Z[s.Layer]
	}
	panic("gpt2: unknown site kind")
}

// ResidPre is the input of block l: the embedding for l = 0, else block l−1's output.
func (tr *Trace) ResidPre(l int) []float32 {
	if l == 0 {
		return tr.Embed
	}
	return tr.Resid[l-1]
}

// Segment is a run of consecutive positions [Start, Start+Len) of one
// sequence moving through the blocks in a Stream. Positions before Start are
// not recomputed: their keys and values come from Base, a run of a sequence
// with the same tokens there.
type Segment struct {
	Start, Len int
	Base       *Trace // needed when Start > 0
}

// Stream is a batch of residual rows, one or more segments stacked, that the
// blocks transform in place. Batching segments lets every weight matrix be
// read once for all of them. Shapes below: rows = Rows(); out = the rows
// that go on past a block's attention (rows, or one per segment).
type Stream struct {
	X    []float32 // (rows, C): the residual stream, segment after segment
	Segs []Segment

	// Scratch, grown as needed.
	h      []float32 // (rows, C): a LayerNorm's output
	qkv    []float32 // (rows, 3C): each row's query, key and value
	z      []float32 // (out, C): attention's result, head h in columns [h·HeadDim, (h+1)·HeadDim)
	a      []float32 // (out, C): a sublayer's output, attn_out then mlp_out
	f      []float32 // (out, 4C): the MLP's hidden activations
	scores []float32 // (maxT): one query's attention scores, maxT the longest segment's end
}

// Rows is the number of residual rows the stream holds.
func (s *Stream) Rows() int {
	n := 0
	for _, g := range s.Segs {
		n += g.Len
	}
	return n
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// ErrEmpty is returned for a run with no tokens.
var ErrEmpty = errors.New("no tokens: the text is empty")

// CheckIDs reports whether ids can be run: at least one token, at most the
// context length, every id in the vocabulary.
func (m *Model) CheckIDs(ids []int) error {
	if len(ids) == 0 {
		return ErrEmpty
	}
	if len(ids) > m.Context {
		return fmt.Errorf("%d tokens: longer than the model's context of %d", len(ids), m.Context)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Vocab {
			return fmt.Errorf("token %d at position %d is outside the vocabulary (0…%d)", id, i, m.Vocab-1)
		}
	}
	return nil
}

// EmbedInto writes the embeddings of ids at positions start… into x
// (len(ids), C): row i = WTE[ids[i]] + WPE[start+i].
func (m *Model) EmbedInto(x []float32, ids []int, start int) {
	c := m.Width
	pos := make([]float32, c)
	for i, id := range ids {
		xi := x[i*c : (i+1)*c]
		m.WTE.Row(xi, id)
		m.WPE.Row(pos, start+i)
		add(xi, xi, pos)
	}
}

// Forward runs ids through the model, calling hook (if not nil) at every
// site, and returns the logits of the last position over the whole
// vocabulary. With record, every activation is also recorded into a new Trace.
func (m *Model) Forward(ids []int, hook Hook, record bool) (logits []float32, tr *Trace, err error) {
	if err := m.CheckIDs(ids); err != nil {
		return nil, nil, err
	}
	t, c := len(ids), m.Width
	if record {
		tr = newTrace(m.Layers, t, c)
	}
	s := &Stream{X: make([]float32, t*c), Segs: []Segment{{Start: 0, Len: t}}}
	m.EmbedInto(s.X, ids, 0)
	if hook != nil {
		hook(Site{Kind: Embed}, 0, s.X)
	}
	if tr != nil {
		copy(tr.Embed, s.X)
	}
	// Without hooks or a trace nobody needs the last block's other rows.
	full := hook != nil || tr != nil
	for l := 0; l < m.Layers; l++ {
		m.Block(l, s, hook, tr, !full && l == m.Layers-1)
	}
	last := s.X[(s.Rows()-1)*c:]
	return m.Logits(last, 1), tr, nil
}

// Block runs block l on the stream's residual rows x:
//
//	z        = attend(x)            (out, C)
//	attn_out = z·Projᵀ + ProjB      (out, C); x += attn_out
//	mlp_out  = mlp(x)               (out, C); x += mlp_out
//
// hook (may be nil) sees each site per segment; rec (may be nil, single
// segment from position 0) records it. With lastOnly, only each segment's
// last position goes on past the attention (keys and values still come from
// every row), and the stream is left with one row per segment.
func (m *Model) Block(l int, s *Stream, hook Hook, rec *Trace, lastOnly bool) {
	b := &m.Blocks[l]
	c := m.Width
	m.attend(l, s, rec, lastOnly)
	if lastOnly {
		s.keepLast(c)
	}
	s.tap(Site{Z, l}, hook, rec)
	out := s.Rows()

	s.a = grow(s.a, out*c)
	m.AttnProj(l, s.a, s.z, out)
	s.tapA(Site{AttnOut, l}, hook, rec)
	add(s.X, s.X, s.a)

	s.f = grow(s.f, out*4*c)
	var hidden []float32
	if rec != nil && rec.Hidden != nil {
		hidden = rec.Hidden[l]
	}
	b.mlp(s.a, s.X, s.h, s.f, hidden, out, c)
	s.tapA(Site{MLPOut, l}, hook, rec)
	add(s.X, s.X, s.a)
	s.tapX(Site{ResidPost, l}, hook, rec)
}

// attend computes block l's causal self-attention of the stream's rows x
// into s.z:
//
//	q, k, v = LN(x; LN1G, LN1B)·QKVᵀ + QKVB                (rows, 3C)
//	z       = softmax(q·kᵀ / √HeadDim)·v, head by head     (out, C)
//
// over the row's own and earlier positions, for every row or, with
// lastOnly, each segment's last. A segment's rows also attend to Base's K[l]
// and V[l] at the positions before Start. rec (may be nil) records every
// row's keys and values.
func (m *Model) attend(l int, s *Stream, rec *Trace, lastOnly bool) {
	b := &m.Blocks[l]
	c, rows := m.Width, s.Rows()
	s.h = grow(s.h, rows*c)       // (rows, C)
	s.qkv = grow(s.qkv, rows*3*c) // (rows, 3C)
	layerNorm(s.h, s.X, b.LN1G, b.LN1B, rows, c)
	linear(s.qkv, s.h, b.QKV, b.QKVB, rows)
	if rec != nil {
		for i := 0; i < rows; i++ {
			copy(rec.Q[l][i*c:(i+1)*c], s.qkv[i*3*c:i*3*c+c])
			copy(rec.K[l][i*c:(i+1)*c], s.qkv[i*3*c+c:i*3*c+2*c])
			copy(rec.V[l][i*c:(i+1)*c], s.qkv[i*3*c+2*c:i*3*c+3*c])
		}
	}

	out := rows
	if lastOnly {
		out = len(s.Segs)
	}
	s.z = grow(s.z, out*c) // (out, C)
	maxT := 0
	for _, g := range s.Segs {
		maxT = max(maxT, g.Start+g.Len)
	}
	s.scores = grow(s.scores, maxT)
	r0, o := 0, 0
	for _, g := range s.Segs {
		var preK, preV []float32 // (Start, C) each
		if g.Start > 0 {
			preK, preV = g.Base.K[l], g.Base.V[l]
		}
		own := s.qkv[r0*3*c : (r0+g.Len)*3*c] // (Len, 3C)
		first := 0
		if lastOnly {
			first = g.Len - 1
		}
		for i := first; i < g.Len; i++ {
			attendRow(s.z[o*c:(o+1)*c], own[i*3*c:i*3*c+c], preK, preV, own, g.Start, i+1, c, m.Heads, s.scores)
			o++
		}
		r0 += g.Len
	}
}

// keepLast leaves the stream with each segment's last row only.
func (s *Stream) keepLast(c int) {
	r0 := 0
	for gi := range s.Segs {
		g := &s.Segs[gi]
		r0 += g.Len
		copy(s.X[gi*c:(gi+1)*c], s.X[(r0-1)*c:r0*c])
		g.Start += g.Len - 1
		g.Len = 1
	}
	s.X = s.X[:len(s.Segs)*c]
}

// mlp computes block b's MLP for n residual rows x (n, C) into out (n, C):
//
//	out = gelu(LN(x; LN2G, LN2B)·FCᵀ + FCB)·FCProjᵀ + FCProjB
//
// with h (at least n·C) and f (n, 4C) as scratch. hidden (nil, or n·4C)
// receives the input of GELU.
func (b *Block) mlp(out, x, h, f, hidden []float32, n, c int) {
	h = h[:n*c]
	layerNorm(h, x, b.LN2G, b.LN2B, n, c)
	linear(f, h, b.FC, b.FCB, n)
	copy(hidden, f)
	gelu(f)
	linear(out, f, b.FCProj, b.FCProjB, n)
}

// tap, tapA and tapX show the stream's z, a or X rows at a site to the hook
// (segment by segment) and the recorder.
func (s *Stream) tap(site Site, hook Hook, rec *Trace)  { s.show(site, s.z, hook, rec) }
func (s *Stream) tapA(site Site, hook Hook, rec *Trace) { s.show(site, s.a, hook, rec) }
func (s *Stream) tapX(site Site, hook Hook, rec *Trace) { s.show(site, s.X, hook, rec) }

func (s *Stream) show(site Site, act []float32, hook Hook, rec *Trace) {
	if hook == nil && rec == nil {
		return
	}
	c := len(act) / s.Rows()
	r0 := 0
	for _, g := range s.Segs {
		rows := act[r0*c : (r0+g.Len)*c]
		if hook != nil {
			hook(site, g.Start, rows)
		}
		if rec != nil {
			copy(rec.Act(site)[g.Start*c:], rows)
		}
		r0 += g.Len
	}
}

// Logits applies the final LayerNorm (LNFG, LNFB) to n residual rows x
// (n, C) and returns their logits over the whole vocabulary, (n, Vocab):
// the rows times WTEᵀ.
func (m *Model) Logits(x []float32, n int) []float32 {
	h := make([]float32, n*m.Width)
	layerNorm(h, x, m.LNFG, m.LNFB, n, m.Width)
	out := make([]float32, n*m.Vocab)
	m.WTE.MulT(out, h, n)
	return out
}

// LogitsOf is Logits restricted to the given token ids: (n, len(ids)). Each
// value equals the corresponding one of Logits bit for bit.
func (m *Model) LogitsOf(x []float32, n int, ids []int) []float32 {
	h := make([]float32, n*m.Width)
	layerNorm(h, x, m.LNFG, m.LNFB, n, m.Width)
	out := make([]float32, n*len(ids))
	m.WTE.MulTRows(out, h, n, ids)
	return out
}

// AttnProj is block l's attention output for n rows of z (n, C) into out
// (n, C): out = z·Projᵀ + ProjB.
func (m *Model) AttnProj(l int, out, z []float32, n int) {
	b := &m.Blocks[l]
	linear(out, z, b.Proj, b.ProjB, n)
}

// MLPResidual finishes block l for n rows whose residual after attention is
// mid (n, C): out = mid + mlp_out, with mlp_out computed as Block computes it.
func (m *Model) MLPResidual(l int, out, mid []float32, n int) {
	c := m.Width
	a := make([]float32, n*c) // (n, C)
	m.Blocks[l].mlp(a, mid, make([]float32, n*c), make([]float32, n*4*c), nil, n, c)
	add(out[:n*c], mid[:n*c], a)
}
