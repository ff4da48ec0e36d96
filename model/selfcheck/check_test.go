package selfcheck

import (
	"context"
	"github.com/patchlab/patchlab/model/webfmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/weights"
)

// TestPublishedTable: the published token indices are the published tokens
// in GPT-2's vocabulary, ranked 1…20 by falling probability, and both
// texts are the published 11 tokens.
func TestPublishedTable(t *testing.T) {
	tok := bpe.New()
	for i, r := range Published.Top {
		if got := tok.DecodeToken(r.ID); got != r.Token {
			t.Errorf("row %d: token %d is %q, the table says %q", r.Rank, r.ID, got, r.Token)
		}
		if r.Rank != i+1 || (i > 0 && r.P > Published.Top[i-1].P) {
			t.Errorf("row %d: rank %d, p %g out of order", i, r.Rank, r.P)
		}
	}
	for _, text := range []string{Published.Request.Clean, Published.Request.Corrupted} {
		if n := len(tok.Encode(text)); n != Published.Tokens {
			t.Errorf("%q: %d tokens, published %d", text, n, Published.Tokens)
		}
	}
	if Promise != 0.02 {
		t.Errorf("Promise = %g: the README promises 2%%", Promise)
	}
}

func tiny(t *testing.T) (*gpt2.Model, fixture.Case) {
	t.Helper()
	path, err := fixture.TinyModel()
	if err != nil {
		t.Fatal(err)
	}
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	c, ok := fixture.Find(cases, "michelle")
	if !ok {
		t.Fatal("golden.json has no michelle case")
	}
	return m, c
}

// fromGolden is an expectation for the tiny model made as the published one
// is: the golden top-20 rounded to the table's 4 decimals, and assertions
// on the golden heatmap (the oracle's, not this engine's).
func fromGolden(m *gpt2.Model, c fixture.Case) Expectation {
	e := Expectation{Source: "the fixture's golden values", Config: m.Config, Request: Published.Request, Tokens: len(c.CleanIDs)}
	for i, r := range c.CleanTop20 {
		e.Top = append(e.Top, Row{Rank: i + 1, ID: int(r[0].(float64)), Token: r[1].(string), P: math.Round(r[2].(float64)*1e4) / 1e4})
	}
	norm := func(l, p int) float64 {
		return (c.PatchResidPost[l][p] - c.CorruptedLogitDiff) / (c.CleanLogitDiff - c.CorruptedLogitDiff)
	}
	last := len(c.PatchResidPost) - 1
	t := len(c.CleanIDs) - 1
	e.Shape = []Assertion{
		{Says: "the first column changes nothing", Layers: Span{0, last}, Positions: Span{0, 0}, Min: -1e-6, Max: 1e-6},
		{Says: "the last layer's last cell is the clean run", Layers: Span{last, last}, Positions: Span{t, t}, Min: 0.999, Max: 1.001},
		{Says: "layer 0 at the name is the oracle's", Layers: Span{0, 0}, Positions: Span{1, 1}, Min: norm(0, 1) - 0.01, Max: norm(0, 1) + 0.01},
		{Says: "layer 1 at position 3 is the oracle's", Layers: Span{1, 1}, Positions: Span{3, 3}, Min: norm(1, 3) - 0.01, Max: norm(1, 3) + 0.01},
	}
	return e
}

func run(t *testing.T, m *gpt2.Model, e Expectation, tol Tolerance) *Result {
	t.Helper()
	r, err := Run(context.Background(), m, bpe.New(), e, tol)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFixturePasses: a table and shape made from the oracle's values pass,
// on float32 and on the web format's codes at the width calibration
// chooses for the tiny model, with every kind of check made.
func TestFixturePasses(t *testing.T) {
	m, c := tiny(t)
	e := fromGolden(m, c)
	for _, tc := range []struct {
		name string
		m    *gpt2.Model
		tol  Tolerance
	}{{"float32", m, Float32}, {"13-bit web format", webfmt.Quantize(m, 13), WebFormat}} {
		r := run(t, tc.m, e, tc.tol)
		if !r.Passed() || r.Status() != "passed" {
			t.Errorf("%s: %s\n%s", tc.name, r.Summary(), r.Report())
		}
		kinds := map[string]int{}
		for _, it := range r.Items {
			kinds[it.Kind]++
		}
		if kinds["tokens"] != 1 || kinds["order"] != 20 || kinds["probability"] != 20 || kinds["shape"] != 4 {
			t.Errorf("%s: checks made %v", tc.name, kinds)
		}
		if r.Worst == nil || (tc.tol == Float32 && r.Worst.Off > ProbTolerance/10+1e-5) {
			t.Errorf("%s: worst deviation %+v: more than the 4-decimal rounding", tc.name, r.Worst)
		}
		if (tc.tol.Heatmap == 0) != (r.Widen == 0) {
			t.Errorf("%s: bounds widened by %g", tc.name, r.Widen)
		}
	}
}

// TestFixtureFails: a perturbed table or shape fails, naming the token or
// the cell.
func TestFixtureFails(t *testing.T) {
	m, c := tiny(t)
	for _, tc := range []struct {
		name    string
		perturb func(e *Expectation)
		want    []string // in the failure
	}{
		{"a probability off by 0.002", func(e *Expectation) { e.Top[4].P += 0.002 }, []string{"probability", e5(c)}},
		{"two tokens swapped", func(e *Expectation) {
			a, b := &e.Top[1], &e.Top[2]
			a.ID, b.ID, a.Token, b.Token = b.ID, a.ID, b.Token, a.Token
		}, []string{"order", "rank 2", topName(c, 1), topName(c, 2)}},
		{"a token that is not there", func(e *Expectation) { e.Top[19].ID, e.Top[19].Token = 5437, " Jones" }, []string{`" Jones" (5437)`}},
		{"too few tokens", func(e *Expectation) { e.Tokens = 10 }, []string{"tokens", "published 10"}},
		{"middle columns near the corrupted run", func(e *Expectation) {
			e.Shape = append(e.Shape, Published.Shape[2].withLayers(Span{0, 3}))
		}, []string{"shape", "positions 2–9", "layer"}},
		{"each run prefers its target", func(e *Expectation) { e.Prefer = true }, []string{"baseline", `the corrupted run prefers " Smith"`}},
	} {
		e := fromGolden(m, c)
		tc.perturb(&e)
		r := run(t, m, e, Float32)
		f := r.Failures()
		if r.Passed() || r.Status() != "failed" || len(f) == 0 {
			t.Errorf("%s: %s", tc.name, r.Summary())
			continue
		}
		text := f[0].Kind + ": " + f[0].Text
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: first failure %q does not say %q", tc.name, text, w)
			}
		}
		if !strings.Contains(r.Summary(), f[0].Text) || !strings.Contains(r.Report(), "FAIL") {
			t.Errorf("%s: summary %q / report %q do not show the failure", tc.name, r.Summary(), r.Report())
		}
	}
}

func (a Assertion) withLayers(l Span) Assertion { a.Layers = l; return a }

// e5 names the fifth golden token as failures do.
func e5(c fixture.Case) string { return topName(c, 4) }

func topName(c fixture.Case, i int) string {
	return name(c.CleanTop20[i][1].(string), int(c.CleanTop20[i][0].(float64)))
}

// TestNotGPT2Small: the published numbers skip another configuration
// (skipped, not passed), and check (and fail) a random model of GPT-2
// small's shape.
func TestNotGPT2Small(t *testing.T) {
	m, _ := tiny(t)
	r := run(t, m, Published, Float32)
	if r.Status() != "skipped" || r.Passed() || len(r.Items) != 0 || !strings.Contains(r.Summary(), "skipped: not GPT-2 small") || !strings.Contains(r.Report(), "not passed") {
		t.Errorf("tiny model against the published numbers: %s %q", r.Status(), r.Report())
	}
	if os.Getenv("PATCHLAB_HEAVY") == "" {
		t.Skip("set PATCHLAB_HEAVY=1 to check a random GPT-2-small-shaped model (10–30 s)")
	}
	r = run(t, gpt2.Random(gpt2.Small, 1), Published, Float32)
	if r.Status() != "failed" || r.Failures()[0].Kind != "order" {
		t.Errorf("random GPT-2-small-shaped model: %s", r.Report())
	}
}
