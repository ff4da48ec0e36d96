// Package inspect looks inside one recorded run (gpt2.Trace): the attention
// patterns of every head, the logit lens (the metric read from the residual
// stream after every layer, and the token each layer would predict) and the
// direct logit attribution of the metric to the components that write the
// final residual stream. Definitions as ../shared/fixtures/README.md gives
// them for views-golden.json; the metric is logit(corrupted target) −
// logit(clean target), as in package patch.
//
// Attention, Lens and Attribute are quick (a few milliseconds on GPT-2
// small); LensTop1 reads the whole vocabulary for every cell, so it is
// called a row or a few cells at a time to fill the lens in progressively.
package inspect

import (
	"fmt"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Targets are the two tokens of the metric logit(Corrupted) − logit(Clean).
type Targets struct{ Clean, Corrupted int }

// Attention is the attention probabilities of every head, [L][H][T][T]:
// [l][h][q][k] is how much query position q of head h of block l reads key
// position k (rows sum to 1, 0 above the diagonal).
func Attention(m *gpt2.Model, tr *gpt2.Trace) [][][][]float32 {
	t := tr.T
	out := make([][][][]float32, m.Layers)
	for l := range out {
		p := m.Pattern(l, tr)
		out[l] = make([][][]float32, m.Heads)
		for h := range out[l] {
			out[l][h] = make([][]float32, t)
			for q := range t {
				out[l][h][q] = p[(h*t+q)*t : (h*t+q+1)*t : (h*t+q+1)*t]
			}
		}
	}
	return out
}

// LensRows is the number of rows of the logit lens: the embedding, then
// each block's output.
func LensRows(m *gpt2.Model) int { return m.Layers + 1 }

// lensInput is the residual stream that lens row r reads, [T][Width]: row 0
// the embedding (the input of block 0), row l+1 the output of block l.
func lensInput(tr *gpt2.Trace, r int) []float32 {
	if r == 0 {
		return tr.Embed
	}
	return tr.Resid[r-1]
}

// Lens is the logit lens of the metric, [L+1][T]: the final LayerNorm (with
// each vector's own mean and scale) and the two targets' unembedding rows
// applied to the residual stream at every position, after every layer. The
// last row's last position is the run's own metric.
func Lens(m *gpt2.Model, tr *gpt2.Trace, tg Targets) [][]float64 {
	t, c, rows := tr.T, m.Width, LensRows(m)
	x := make([]float32, 0, rows*t*c)
	for r := range rows {
		x = append(x, lensInput(tr, r)...)
	}
	logits := m.LogitsOf(x, rows*t, []int{tg.Clean, tg.Corrupted})
	out := make([][]float64, rows)
	for r := range out {
		out[r] = make([]float64, t)
		for p := range t {
			i := r*t + p
			out[r][p] = float64(logits[2*i+1]) - float64(logits[2*i])
		}
	}
	return out
}

// LensTop1 is the most probable token (argmax over the whole vocabulary,
// the first on a tie) that lens row r predicts at positions from … to−1.
// Each cell costs a product with the whole unembedding: call it a row or a
// few cells at a time to fill the lens in progressively.
func LensTop1(m *gpt2.Model, tr *gpt2.Trace, r, from, to int) []int {
	if r < 0 || r >= LensRows(m) || from < 0 || to > tr.T || from > to {
		panic(fmt.Sprintf("inspect: LensTop1 row %d positions %d…%d outside %d×%d", r, from, to, LensRows(m), tr.T))
	}
	c := m.Width
	n := to - from
	logits := m.Logits(lensInput(tr, r)[from*c:to*c], n)
	out := make([]int, n)
	for i := range out {
		out[i] = argmax(logits[i*m.Vocab : (i+1)*m.Vocab])
	}
	return out
}

// LensTop1All is LensTop1 of every cell, [L+1][T].
func LensTop1All(m *gpt2.Model, tr *gpt2.Trace) [][]int {
	out := make([][]int, LensRows(m))
	for r := range out {
		out[r] = LensTop1(m, tr, r, 0, tr.T)
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Run is the views of one run that need no pass over the vocabulary.
type Run struct {
	Attn [][][][]float32 // Attention
	Lens [][]float64     // Lens
	DLA  *DLA            // Attribute
}

// Inspect computes a run's attention patterns, lens metric and direct logit
// attribution.
func Inspect(m *gpt2.Model, tr *gpt2.Trace, tg Targets) *Run {
	return &Run{Attn: Attention(m, tr), Lens: Lens(m, tr, tg), DLA: Attribute(m, tr, tg)}
}

// Record is both runs' views with views-golden.json's field names, as the
// CLI's -json writes them.
type Record struct {
	AttnPatternClean       [][][][]float32 `json:"attn_pattern_clean"`
	LogitLensClean         [][]float64     `json:"logit_lens_clean"`
	LogitLensTop1Clean     [][]int         `json:"logit_lens_top1_clean"`
	DLAClean               *DLA            `json:"dla_clean"`
	AttnPatternCorrupted   [][][][]float32 `json:"attn_pattern_corrupted"`
	LogitLensCorrupted     [][]float64     `json:"logit_lens_corrupted"`
	LogitLensTop1Corrupted [][]int         `json:"logit_lens_top1_corrupted"`
	DLACorrupted           *DLA            `json:"dla_corrupted"`
}

// NewRecord computes every view of a session's two runs, top-1 tokens included.
func NewRecord(s *patch.Session) *Record {
	m, tg := s.Model, Targets{s.CleanTarget, s.CorruptedTarget}
	clean, corrupted := Inspect(m, s.Clean, tg), Inspect(m, s.Corrupted, tg)
	return &Record{
		AttnPatternClean: clean.Attn, LogitLensClean: clean.Lens, DLAClean: clean.DLA,
		LogitLensTop1Clean:   LensTop1All(m, s.Clean),
		AttnPatternCorrupted: corrupted.Attn, LogitLensCorrupted: corrupted.Lens, DLACorrupted: corrupted.DLA,
		LogitLensTop1Corrupted: LensTop1All(m, s.Corrupted),
	}
}
