package main

// The experiment's design as the page runs it (issue #17): prompt sets read
// or generated (Pairs), and one run of a set at a time (RunPair): a pair
// with its corrupted text, or a pair with one seed of Gaussian noise. The
// page hands runs to its workers and adds each run's values, in the set's
// order, to running means and spreads (site/promptset.js), as
// promptset.Set does for the CLI.

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/promptset"
)

// SetPair is one pair of a set as the page lists it before running it: the
// pair, why it cannot be read (Problem), its clean token count (−1: not
// known) and what analysis.Check finds wrong with it.
type SetPair struct {
	promptset.Pair
	Problem string               `json:"problem,omitempty"`
	Tokens  int                  `json:"tokens"`
	Error   *analysis.InputError `json:"error,omitempty"`
}

// PairsSource is where a set's pairs come from: JSONL text, or a generator
// spec ("ioi:20", "factual:10") and its seed.
type PairsSource struct {
	JSONL string `json:"jsonl,omitempty"`
	Spec  string `json:"spec,omitempty"`
	Seed  uint64 `json:"seed"`
}

// MaxPagePairs bounds a set on the page (the CLI has no such bound).
const MaxPagePairs = 1000

func pairsError(msg string) error {
	return &analysis.InputError{Field: "pairs", Reason: "pairs", Msg: msg, FirstDiff: -1}
}

// Pairs reads or generates a set's pairs and checks each as a run would
// (tokenization only: nothing runs).
func (e *Engine) Pairs(src PairsSource) ([]SetPair, error) {
	var pairs []promptset.Pair
	var err error
	switch {
	case src.Spec != "":
		if pairs, err = promptset.Generate(strings.TrimSpace(src.Spec), src.Seed); err != nil {
			return nil, pairsError(err.Error())
		}
	default:
		if pairs, err = promptset.ReadJSONL(strings.NewReader(src.JSONL)); err != nil {
			return nil, pairsError(err.Error() + ": paste one {\"clean\", \"corrupted\", \"clean_target\", \"corrupted_target\"} object a line, or generate a set")
		}
	}
	if len(pairs) > MaxPagePairs {
		return nil, pairsError(fmt.Sprintf("%d pairs: the page runs up to %d; use the command line (patchlab sweep -pairs) for more", len(pairs), MaxPagePairs))
	}
	cfg := e.config()
	out := make([]SetPair, len(pairs))
	for i, p := range pairs {
		sp := SetPair{Pair: p, Problem: p.Problem, Tokens: -1}
		if p.Problem == "" {
			req := p.Request
			if req.Corrupted == "" {
				req.Corrupted = req.Clean // a noise-only pair: only the clean text's length matters
			}
			a, err := analysis.Check(e.tok, cfg, req)
			switch {
			case err != nil:
				sp.Error = inputError(err)
			default:
				sp.Tokens = len(a.CleanTokens)
				sp.Error = tooLongForPage(sp.Tokens)
			}
		}
		out[i] = sp
	}
	return out, nil
}

// RunOptions are what every run of a set is swept with.
type RunOptions struct {
	Sites     []string `json:"sites"`
	Metric    string   `json:"metric"`
	Direction string   `json:"direction"`
	// Noise corrupts by Gaussian noise (null: by the corrupted text); its
	// Seeds is how many runs each pair has, and a run k uses seed Seed+k.
	Noise *promptset.Noise `json:"noise"`
	// Tokens is the set's token count: a pair of another length is skipped
	// (0: any).
	Tokens int `json:"tokens"`
}

// RunJob is one run of a set: pair Index, and with noise its run K (seed
// Noise.Seed+K).
type RunJob struct {
	Index int            `json:"index"`
	Pair  promptset.Pair `json:"pair"`
	K     int            `json:"k"`
}

// SiteValues are one run's values of a site, row-major: the logit
// difference and the set's metric.
type SiteValues struct {
	Rows   int       `json:"rows"`
	Cols   int       `json:"cols"`
	Diff   []float64 `json:"diff"`
	Metric []float64 `json:"metric"`
}

// RunResult is what one run gave: the pair's result (promptset's, with
// Error and Reason when the pair is skipped), and otherwise the run's
// values and baselines, the tokens (for the set's position labels) and σ.
type RunResult struct {
	Index           int                    `json:"index"`
	K               int                    `json:"k"`
	Result          *promptset.PairResult  `json:"result"`
	Tokens          int                    `json:"tokens"`
	CleanTokens     []analysis.Token       `json:"clean_tokens,omitempty"`
	CorruptedTokens []analysis.Token       `json:"corrupted_tokens,omitempty"`
	Sigma           float64                `json:"sigma"`
	CleanDiff       float64                `json:"clean_diff"`
	CorruptedDiff   float64                `json:"corrupted_diff"`
	Values          map[string]*SiteValues `json:"values,omitempty"`
}

// embedStd is patch.EmbedStd of the loaded model, computed once (it reads
// the whole embedding matrix).
func (e *Engine) embedStd() float64 {
	if e.std == 0 {
		e.std = patch.EmbedStd(e.model)
	}
	return e.std
}

// RunPair runs one run of a set with promptset.Set, as the CLI does for
// each pair (and seed): the same checks, skips, noise and values.
// onRow(cells) follows the progress.
func (e *Engine) RunPair(ctx context.Context, job RunJob, o RunOptions, onRow func(cells int)) (*RunResult, error) {
	if e.model == nil {
		return nil, ErrNoModel
	}
	opt := promptset.Options{}
	var err error
	for _, name := range o.Sites {
		s, err := patch.ParseSite(name)
		if err != nil {
			return nil, err
		}
		opt.Sites = append(opt.Sites, s)
	}
	if opt.Metric, err = patch.ParseMetric(o.Metric); err != nil {
		return nil, err
	}
	if opt.Direction, err = patch.ParseDirection(o.Direction); err != nil {
		return nil, err
	}
	set, err := promptset.New(e.model, e.tok, opt)
	if err != nil {
		return nil, err
	}
	if n := o.Noise; n != nil {
		if n.Seeds < 1 || !(n.Scale > 0) || math.IsInf(n.Scale, 0) || job.K < 0 || job.K >= n.Seeds {
			return nil, pairsError(fmt.Sprintf("noise: want a scale above 0 and at least one seed (got scale %g, %d seeds, run %d)", n.Scale, n.Seeds, job.K))
		}
		// One seed per run; σ from the cached standard deviation (New
		// would read the whole embedding matrix again for every run).
		set.Noise = &promptset.Noise{Scale: n.Scale, Seed: n.Seed + uint64(job.K), Seeds: 1, Positions: n.Positions}
		set.Sigma = n.Scale * e.embedStd()
	}
	set.T = o.Tokens
	set.OnRow = onRow
	if job.Pair.Problem == "" && job.Pair.Clean != "" {
		req := job.Pair.Request
		if req.Corrupted == "" {
			req.Corrupted = req.Clean
		}
		if a, err := analysis.Check(e.tok, e.model.Config, req); err == nil {
			if ie := tooLongForPage(len(a.CleanTokens)); ie != nil {
				return &RunResult{Index: job.Index, K: job.K, Result: &promptset.PairResult{Index: job.Index, Pair: job.Pair, Error: ie.Msg, Reason: ie.Reason}}, nil
			}
		}
	}
	res, err := set.Add(ctx, job.Index, job.Pair)
	if err != nil {
		return nil, err
	}
	out := &RunResult{Index: job.Index, K: job.K, Result: res, Tokens: set.T, Sigma: set.Sigma}
	if res.Error != "" {
		return out, nil
	}
	out.CleanTokens, out.CorruptedTokens = e.tokens(res.CleanIDs), e.tokens(res.CorruptedIDs)
	out.CleanDiff, _, out.CorruptedDiff, _ = set.Baselines()
	out.Values = map[string]*SiteValues{}
	for _, site := range opt.Sites {
		diff, _, err := set.Values(site, patch.LogitDiff)
		if err != nil {
			return nil, err
		}
		met, _, err := set.Values(site, opt.Metric)
		if err != nil {
			return nil, err
		}
		l := site.Layout(e.model.Config, set.T)
		out.Values[site.String()] = &SiteValues{Rows: l.Rows, Cols: l.Cols, Diff: diff, Metric: met}
	}
	return out, nil
}

func (e *Engine) tokens(ids []int) []analysis.Token {
	out := make([]analysis.Token, len(ids))
	for i, id := range ids {
		out[i] = analysis.Token{ID: id, Text: e.tok.DecodeToken(id)}
	}
	return out
}
