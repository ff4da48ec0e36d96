// Package selfcheck checks a loaded GPT-2 against published numbers: the
// top-20 next tokens of an example, with their probabilities, and stated
// assertions on the shape of its resid_post patching heatmap. Real GPT-2
// cannot be downloaded where this project is built, so the first place it
// meets this code is a user's machine or the Pages workflow: there it must
// prove itself rather than be trusted. Published holds the assignment's
// numbers; the tests run the same code on the tiny fixture with a table
// made from its golden values.
package selfcheck

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/calib"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Row is one row of a published top-k table.
type Row struct {
	Rank  int
	ID    int
	Token string
	P     float64
}

// Span is an inclusive range of indices.
type Span struct{ First, Last int }

// Assertion is a stated shape of the resid_post heatmap: every cell at its
// layers and positions lies within [Min, Max], measured as the normalized
// logit difference — the way from the corrupted run (0) to the clean run
// (1).
type Assertion struct {
	Says              string
	Layers, Positions Span
	Min, Max          float64
}

// Expectation is what a model must show: the top tokens after the clean
// text and the shape of the heatmap of the request.
type Expectation struct {
	Source  string      // where the numbers come from
	Config  gpt2.Config // the model they are for; any other is skipped
	Request analysis.Request
	Tokens  int   // each text's token count
	Top     []Row // the most probable next tokens after the clean text, in order
	// Prefer asserts that each unpatched run prefers its own target.
	Prefer bool
	Shape  []Assertion
}

// Tolerance is how far a model may be from the expectation.
type Tolerance struct {
	// Prob is the allowed |p − published p| of each token.
	Prob float64
	// Heatmap is, for a quantised model, the web format's promise: each
	// heatmap cell within this fraction of the heatmap's range of the
	// float32 model's. 0 for the float32 model itself.
	Heatmap float64
}

// ProbTolerance is the float32 model's allowance on each probability: the
// table prints 4 decimals, so 5e-4 is five times its rounding.
const ProbTolerance = 5e-4

// Promise is what the web format promises: every heatmap cell within 2% of
// the float32 heatmap's range. The converter's calibration holds its own
// texts to a quarter of it (calib.Tolerance), as others fare up to about
// four times worse.
const Promise = 4 * calib.Tolerance

// Float32 and WebFormat are the tolerances for the float32 checkpoint and
// for the converted (integer-coded) model.
var (
	Float32   = Tolerance{Prob: ProbTolerance}
	WebFormat = Tolerance{Prob: ProbTolerance, Heatmap: Promise}
)

// Item is one check made.
type Item struct {
	Kind string // tokens, order, probability, baseline or shape
	Text string // what was found, in words
	// Off is how far a probability is from the published one (0 for the
	// other kinds), Allowed how far it may be.
	Off, Allowed float64
	OK           bool
}

// Result is what a check found.
type Result struct {
	Against   string
	Tolerance Tolerance
	// Skipped says why the model was not checked ("" when it was).
	Skipped string
	Items   []Item
	// Worst is the probability furthest from the published one.
	Worst *Item
	// Widen is how much the tolerance widened each shape bound, in the
	// assertions' units (0 for the float32 model).
	Widen float64
}

// Passed: the model was checked and every check passed.
func (r *Result) Passed() bool { return r.Skipped == "" && len(r.Failures()) == 0 }

// Status is passed, failed or skipped.
func (r *Result) Status() string {
	switch {
	case r.Skipped != "":
		return "skipped"
	case r.Passed():
		return "passed"
	}
	return "failed"
}

// Failures are the checks that failed.
func (r *Result) Failures() []Item {
	var out []Item
	for _, it := range r.Items {
		if !it.OK {
			out = append(out, it)
		}
	}
	return out
}

// Summary is the result in one line.
func (r *Result) Summary() string {
	switch r.Status() {
	case "skipped":
		return "skipped: " + r.Skipped
	case "passed":
		s := fmt.Sprintf("passed: %d checks against %s", len(r.Items), r.Against)
		if r.Worst != nil {
			s += "; worst deviation " + r.Worst.Text
		}
		return s
	}
	f := r.Failures()
	s := fmt.Sprintf("failed %d of %d checks against %s: %s", len(f), len(r.Items), r.Against, f[0].Text)
	if len(f) > 1 {
		s += fmt.Sprintf(" (and %d more)", len(f)-1)
	}
	return s
}

// Report is the result as lines for a terminal: each kind of check, the
// failures in full, and the summary.
func (r *Result) Report() string {
	var b strings.Builder
	if r.Skipped != "" {
		return "skipped (not checked, so not passed): " + r.Skipped + "\n"
	}
	fmt.Fprintf(&b, "checked against %s", r.Against)
	if r.Tolerance.Heatmap > 0 {
		fmt.Fprintf(&b, ", within the web format's promise (each heatmap cell within %g%% of the heatmap's range)", 100*r.Tolerance.Heatmap)
	}
	b.WriteString(":\n")
	var kinds []string
	count := map[string][2]int{}
	for _, it := range r.Items {
		c, seen := count[it.Kind]
		if !seen {
			kinds = append(kinds, it.Kind)
		}
		c[0]++
		if it.OK {
			c[1]++
		}
		count[it.Kind] = c
	}
	for _, k := range kinds {
		c := count[k]
		fmt.Fprintf(&b, "  %-11s %d of %d ok\n", k, c[1], c[0])
		for _, it := range r.Items {
			if it.Kind == k && (!it.OK || k == "shape" || k == "baseline" || k == "tokens") {
				mark := "ok  "
				if !it.OK {
					mark = "FAIL"
				}
				fmt.Fprintf(&b, "    %s %s\n", mark, it.Text)
			}
		}
	}
	b.WriteString(r.Summary() + "\n")
	return b.String()
}

// Run checks m against exp within tol. A model whose configuration is not
// exp's is skipped (the Result says why); an error means the check could
// not run.
func Run(ctx context.Context, m *gpt2.Model, tok *bpe.Tokenizer, exp Expectation, tol Tolerance) (*Result, error) {
	r := &Result{Against: exp.Source, Tolerance: tol}
	if m.Config != exp.Config {
		c, w := m.Config, exp.Config
		r.Skipped = fmt.Sprintf("not GPT-2 small: this model has %d layers, %d heads, width %d, context %d, vocabulary %d; the published numbers are for %d, %d, %d, %d, %d",
			c.Layers, c.Heads, c.Width, c.Context, c.Vocab, w.Layers, w.Heads, w.Width, w.Context, w.Vocab)
		return r, nil
	}
	a, err := analysis.New(m, tok, exp.Request)
	if err != nil {
		return nil, fmt.Errorf("selfcheck: %w", err)
	}
	s := a.Session
	mx, err := s.Sweep(ctx, patch.Site{Kind: gpt2.ResidPost}, patch.Options{}, nil)
	if err != nil {
		return nil, err
	}
	diff, err := s.Values(mx, patch.LogitDiff)
	if err != nil {
		return nil, err
	}
	heat := heatmap{rows: mx.Rows, cols: mx.Cols, diff: diff, clean: s.CleanBase.Diff(), corrupted: s.CorruptedBase.Diff()}

	// The web format's promise bounds each cell's error by a fraction of
	// the heatmap's range R (here the model's own, close to float32's).
	// A log-probability, a logit minus the log-partition function, is a
	// difference of the same kind and so may move by as much, scaling a
	// probability by up to exp(±R·Heatmap); in the assertions' units the
	// bound is R·Heatmap over the clean–corrupted gap.
	spread := tol.Heatmap * heat.span()
	r.Widen = spread / math.Abs(heat.clean-heat.corrupted)
	allowed := func(p float64) float64 { return tol.Prob + p*math.Expm1(spread) }

	r.add(Item{Kind: "tokens", OK: len(a.CleanTokens) == exp.Tokens && len(a.CorruptedTokens) == exp.Tokens,
		Text: fmt.Sprintf("clean %d and corrupted %d tokens, published %d", len(a.CleanTokens), len(a.CorruptedTokens), exp.Tokens)})
	r.checkTop(tok, s.CleanLogits, exp.Top, allowed)
	if exp.Prefer {
		r.add(Item{Kind: "baseline", OK: heat.clean < 0, Text: fmt.Sprintf("the clean run prefers %q: logit(%q) − logit(%q) = %.3f, want < 0", exp.Request.CleanTarget, exp.Request.CorruptedTarget, exp.Request.CleanTarget, heat.clean)})
		r.add(Item{Kind: "baseline", OK: heat.corrupted > 0, Text: fmt.Sprintf("the corrupted run prefers %q: logit(%q) − logit(%q) = %.3f, want > 0", exp.Request.CorruptedTarget, exp.Request.CorruptedTarget, exp.Request.CleanTarget, heat.corrupted)})
	}
	for _, as := range exp.Shape {
		it, err := heat.check(as, r.Widen, a.CleanTokens)
		if err != nil {
			return nil, err
		}
		r.add(it)
	}
	return r, nil
}

func (r *Result) add(it Item) {
	r.Items = append(r.Items, it)
	if it.Kind == "probability" && (r.Worst == nil || it.Off > r.Worst.Off || math.IsNaN(it.Off)) {
		w := it
		r.Worst = &w
	}
}

// checkTop checks the model's most probable tokens against the table: the
// same tokens in the same order, where two rows may trade places only when
// their published probabilities are within the allowance of each other,
// and each token's probability within the allowance.
func (r *Result) checkTop(tok *bpe.Tokenizer, logits []float32, want []Row, allowed func(p float64) float64) {
	got := patch.Top(logits, len(want))
	rankOf := map[int]int{}
	for i, w := range want {
		rankOf[w.ID] = i
	}
	for i, w := range want {
		it := Item{Kind: "order", OK: true, Text: fmt.Sprintf("rank %d: %s as published", w.Rank, name(w.Token, w.ID))}
		if i >= len(got) {
			it.OK, it.Text = false, fmt.Sprintf("rank %d: the model has only %d tokens, the table has %s", w.Rank, len(got), name(w.Token, w.ID))
		} else if g := got[i].ID; g != w.ID {
			j, listed := rankOf[g]
			it.OK = listed && math.Abs(want[j].P-w.P) <= allowed(w.P)+allowed(want[j].P) && r.Tolerance.Heatmap > 0
			it.Text = fmt.Sprintf("rank %d: the model has %s where the table has %s", w.Rank, name(tok.DecodeToken(g), g), name(w.Token, w.ID))
			if it.OK {
				it.Text += " (their published probabilities are within the tolerance of each other)"
			}
		}
		r.add(it)
	}
	lse := patch.LogSumExp(logits)
	for _, w := range want {
		p := math.NaN()
		if w.ID >= 0 && w.ID < len(logits) {
			p = math.Exp(float64(logits[w.ID]) - lse)
		}
		off, lim := math.Abs(p-w.P), allowed(w.P)
		r.add(Item{Kind: "probability", Off: off, Allowed: lim, OK: off <= lim,
			Text: fmt.Sprintf("%s at rank %d: %.5f, published %.4f, off by %.1e (allowed %.1e)", name(w.Token, w.ID), w.Rank, p, w.P, off, lim)})
	}
}

// name shows a token with its index: " Jones" (5437).
func name(token string, id int) string { return fmt.Sprintf("%q (%d)", token, id) }

// heatmap is the resid_post sweep's logit differences and the unpatched runs'.
type heatmap struct {
	rows, cols       int
	diff             []float64
	clean, corrupted float64
}

// span is the heatmap's range, max − min.
func (h heatmap) span() float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range h.diff {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi - lo
}

// normalized is cell (layer, position) as the way from the corrupted run to the clean run.
func (h heatmap) normalized(layer, pos int) float64 {
	return (h.diff[layer*h.cols+pos] - h.corrupted) / (h.clean - h.corrupted)
}

// check finds the cell of the assertion's region closest to (or furthest
// beyond) its bounds, widened by widen.
func (h heatmap) check(as Assertion, widen float64, toks []analysis.Token) (Item, error) {
	if as.Layers.First < 0 || as.Layers.Last >= h.rows || as.Layers.First > as.Layers.Last ||
		as.Positions.First < 0 || as.Positions.Last >= h.cols || as.Positions.First > as.Positions.Last {
		return Item{}, fmt.Errorf("selfcheck: assertion %q: layers %v, positions %v outside the %d × %d heatmap", as.Says, as.Layers, as.Positions, h.rows, h.cols)
	}
	lo, hi := as.Min-widen, as.Max+widen
	slack, wl, wp := math.Inf(1), 0, 0
	for l := as.Layers.First; l <= as.Layers.Last; l++ {
		for p := as.Positions.First; p <= as.Positions.Last; p++ {
			n := h.normalized(l, p)
			if s := min(n-lo, hi-n); s < slack || math.IsNaN(n) {
				slack, wl, wp = s, l, p
				if math.IsNaN(n) {
					slack = math.NaN()
				}
			}
		}
		if math.IsNaN(slack) {
			break
		}
	}
	n := h.normalized(wl, wp)
	return Item{Kind: "shape", OK: slack >= 0,
		Text: fmt.Sprintf("%s: nearest its bound, layer %d position %d (%q) is %.3f of the way from the corrupted run to the clean one (%s)",
			as.Says, wl, wp, toks[wp].Text, n, bounds(lo, hi))}, nil
}

func bounds(lo, hi float64) string {
	switch {
	case math.IsInf(hi, 1):
		return fmt.Sprintf("want ≥ %.3g", lo)
	case math.IsInf(lo, -1):
		return fmt.Sprintf("want ≤ %.3g", hi)
	}
	return fmt.Sprintf("want %.3g to %.3g", lo, hi)
}
