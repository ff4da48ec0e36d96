package promptset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Options are what every pair of a set is swept with.
type Options struct {
	Sites     []patch.Site
	Metric    patch.Metric
	Direction patch.Direction
	// Noise corrupts by Gaussian noise instead of the corrupted text; nil:
	// the corrupted text.
	Noise *Noise
}

// Noise is Gaussian-noise corruption: the clean text with noise of standard
// deviation Scale × (wte's standard deviation) added to the embedding of
// Positions, run once per seed Seed, Seed+1, … Seed+Seeds−1.
type Noise struct {
	Scale float64 `json:"scale"`
	Seed  uint64  `json:"seed"`
	Seeds int     `json:"seeds"`
	// Positions noised; nil: where the pair's clean and corrupted texts
	// differ (then the corrupted text only chooses the positions).
	Positions []int `json:"positions,omitempty"`
}

// Default noise: ROME's 3 standard deviations, averaged over 10 seeds.
const (
	DefaultNoiseScale = 3
	DefaultNoiseSeeds = 10
)

// Set sweeps pairs one at a time (Add) and keeps, for every site, the mean
// and spread of each cell over every run so far: one run per pair, or one
// per pair and seed with noise. Each run's metric is computed with that
// run's own baselines before averaging (so normalized is 0 at each run's
// corrupted baseline and 1 at its clean one).
type Set struct {
	Options
	Model *gpt2.Model
	Tok   *bpe.Tokenizer
	// Sigma is the noise's standard deviation (0 without noise).
	Sigma float64
	// T is every pair's token count: the first pair that runs sets it.
	T int
	// Pairs and Skipped count the pairs added and refused; Runs the runs.
	Pairs, Skipped, Runs int
	// OnRow (may be nil) is called as each swept row finishes, with its
	// number of cells: for progress.
	OnRow func(cells int)

	diff, metric             map[patch.Site]*moments
	cleanDiff, corruptedDiff moments
	labels                   positions
}

// New is an empty set.
func New(m *gpt2.Model, tok *bpe.Tokenizer, opt Options) (*Set, error) {
	if len(opt.Sites) == 0 {
		return nil, errors.New("no sites to sweep")
	}
	s := &Set{Options: opt, Model: m, Tok: tok, diff: map[patch.Site]*moments{}, metric: map[patch.Site]*moments{}}
	if n := opt.Noise; n != nil {
		if n.Seeds < 1 || !(n.Scale > 0) || math.IsInf(n.Scale, 0) {
			return nil, fmt.Errorf("noise: want a scale > 0 and at least one seed (got scale %g, %d seeds)", n.Scale, n.Seeds)
		}
		s.Sigma = n.Scale * patch.EmbedStd(m)
	}
	return s, nil
}

// PairResult is what one pair gave, or why it was skipped.
type PairResult struct {
	Index int `json:"index"`
	Pair
	CleanIDs     []int `json:"clean_ids,omitempty"`
	CorruptedIDs []int `json:"corrupted_ids,omitempty"`
	// The pair's baselines: the unpatched runs' logit differences (with
	// noise, CorruptedLogitDiff is the mean over seeds, CorruptedLogitDiffs
	// each seed's).
	CleanLogitDiff      float64   `json:"clean_logit_diff"`
	CorruptedLogitDiff  float64   `json:"corrupted_logit_diff"`
	CorruptedLogitDiffs []float64 `json:"corrupted_logit_diffs,omitempty"`
	NoisePositions      []int     `json:"noise_positions,omitempty"`
	// Matrices are the pair's values of the set's metric (the mean over its
	// seeds with noise), by site name, [rows][cols].
	Matrices map[string][][]float64 `json:"matrices,omitempty"`
	// Error says why the pair was skipped; Reason is a short code for it:
	// analysis.InputError's reasons, or not_json, length, no_difference,
	// noise_positions, flat_baselines.
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Add runs one pair (index i in the set) and adds its values. A pair that
// breaks the rules is skipped and its result says why (the error is nil);
// only a cancelled context or an internal failure returns an error, and
// then the set is as it was before.
func (s *Set) Add(ctx context.Context, i int, p Pair) (*PairResult, error) {
	res := &PairResult{Index: i, Pair: p}
	skip := func(reason, msg string) (*PairResult, error) {
		res.Reason, res.Error = reason, msg
		s.Skipped++
		return res, nil
	}
	if p.Problem != "" {
		return skip("not_json", p.Problem)
	}
	req := p.Request
	if s.Noise != nil && req.Corrupted == "" {
		if s.Noise.Positions == nil {
			return skip("no_difference", "no corrupted text and no noise positions: give the positions to add noise to, or a corrupted text to compare")
		}
		req.Corrupted = req.Clean // only its length matters
	}
	a, err := analysis.New(s.Model, s.Tok, req)
	var ie *analysis.InputError
	switch {
	case errors.As(err, &ie):
		return skip(ie.Reason, ie.Msg)
	case err != nil:
		return nil, err
	}
	ses := a.Session
	T := ses.T()
	if s.T != 0 && T != s.T {
		return skip("length", fmt.Sprintf("the pair has %d tokens and the set's pairs %d: every pair of a set must have the same token count", T, s.T))
	}
	res.CleanIDs, res.CorruptedIDs = ses.CleanIDs, ses.CorruptedIDs
	res.CleanLogitDiff = ses.CleanBase.Diff()

	nRuns := 1
	if s.Noise != nil {
		nRuns = s.Noise.Seeds
		pos := s.Noise.Positions
		if pos == nil {
			for p := range T {
				if ses.CleanIDs[p] != ses.CorruptedIDs[p] {
					pos = append(pos, p)
				}
			}
			if pos == nil {
				return skip("no_difference", "the clean and corrupted texts are the same, so there is no position to add noise to: give the positions")
			}
		}
		res.NoisePositions = pos
	}

	// Each run's values, kept until the pair is done: a pair that fails
	// half-way adds nothing. A run's traces are dropped once it is swept.
	type runValues struct {
		diff, metric map[patch.Site][]float64
		clean, corr  float64
	}
	var done []runValues
	for k := range nRuns {
		run := ses
		if s.Noise != nil {
			noise, err := patch.GaussianNoise(T, s.Model.Width, res.NoisePositions, s.Sigma, s.Noise.Seed+uint64(k))
			if err != nil {
				return skip("noise_positions", err.Error())
			}
			if run, err = ses.Renoise(noise); err != nil {
				return nil, err
			}
		}
		if _, err := s.Metric.Value(run.CleanBase, run.CleanBase, run.CorruptedBase); err != nil {
			return skip("flat_baselines", err.Error())
		}
		rv := runValues{diff: map[patch.Site][]float64{}, metric: map[patch.Site][]float64{}, clean: run.CleanBase.Diff(), corr: run.CorruptedBase.Diff()}
		for _, site := range s.Sites {
			_, cols := run.Shape(site)
			mx, err := run.Sweep(ctx, site, patch.Options{Probs: s.Metric.NeedsProbs(), Direction: s.Direction}, func(_, c int, _ patch.Cell) {
				if c == cols-1 && s.OnRow != nil {
					s.OnRow(cols)
				}
			})
			if err != nil {
				return nil, err
			}
			if rv.diff[site], err = run.Values(mx, patch.LogitDiff); err != nil {
				return nil, err
			}
			if rv.metric[site], err = run.Values(mx, s.Metric); err != nil {
				return nil, err
			}
		}
		done = append(done, rv)
	}

	// Add the pair's runs to the set, and its mean over runs to its result.
	if s.T == 0 {
		s.T = T
	}
	s.labels.add(a.CleanTokens, a.CorruptedTokens)
	res.Matrices = map[string][][]float64{}
	for _, site := range s.Sites {
		if s.diff[site] == nil {
			s.diff[site], s.metric[site] = &moments{}, &moments{}
		}
		var pair moments
		for _, rv := range done {
			s.diff[site].add(rv.diff[site])
			s.metric[site].add(rv.metric[site])
			pair.add(rv.metric[site])
		}
		_, cols := ses.Shape(site)
		res.Matrices[site.String()] = analysis.Rows(pair.mean, cols)
	}
	var corr moments
	for _, rv := range done {
		s.cleanDiff.add([]float64{rv.clean})
		s.corruptedDiff.add([]float64{rv.corr})
		corr.add([]float64{rv.corr})
		if s.Noise != nil {
			res.CorruptedLogitDiffs = append(res.CorruptedLogitDiffs, rv.corr)
		}
	}
	res.CorruptedLogitDiff = corr.mean[0]
	s.Pairs++
	s.Runs += len(done)
	return res, nil
}

// Values is the mean and the standard deviation over runs of each cell of
// the site's matrix, row-major, for the logit difference or the set's
// metric (nil before any pair has run).
func (s *Set) Values(site patch.Site, m patch.Metric) (mean, std []float64, err error) {
	var mo *moments
	switch m {
	case patch.LogitDiff:
		mo = s.diff[site]
	case s.Metric:
		mo = s.metric[site]
	default:
		return nil, nil, fmt.Errorf("the set was swept for %v, not %v", s.Metric, m)
	}
	if mo == nil {
		return nil, nil, nil
	}
	return mo.mean, mo.std(), nil
}

// Baselines are the mean and standard deviation over runs of the clean and
// corrupted runs' logit differences.
func (s *Set) Baselines() (clean, cleanStd, corrupted, corruptedStd float64) {
	if s.Runs == 0 {
		return
	}
	return s.cleanDiff.mean[0], s.cleanDiff.std()[0], s.corruptedDiff.mean[0], s.corruptedDiff.std()[0]
}

// CellsPerPair is how many cells one pair of t tokens sweeps (all its seeds).
func (s *Set) CellsPerPair(t int) int {
	n := 0
	for _, site := range s.Sites {
		l := site.Layout(s.Model.Config, t)
		n += l.Rows * l.Cols
	}
	if s.Noise != nil {
		n *= s.Noise.Seeds
	}
	return n
}

// PositionLabels name the set's positions: index and token where every
// pair has the same token there, "*" where they vary, with "→" and the
// corrupted token where the texts differ ("9 *→*" for IOI's subject).
func (s *Set) PositionLabels() []string { return s.labels.labels() }

// moments are running means and sums of squared deviations, cell by cell
// (Welford's update).
type moments struct {
	n        int
	mean, m2 []float64
}

func (m *moments) add(x []float64) {
	if m.n == 0 {
		m.mean, m.m2 = make([]float64, len(x)), make([]float64, len(x))
	}
	m.n++
	for i, v := range x {
		d := v - m.mean[i]
		m.mean[i] += d / float64(m.n)
		m.m2[i] += d * (v - m.mean[i])
	}
}

// std is the sample standard deviation (dividing by n − 1); 0 for one run.
func (m *moments) std() []float64 {
	out := make([]float64, len(m.mean))
	if m.n < 2 {
		return out
	}
	for i, v := range m.m2 {
		out[i] = math.Sqrt(max(v, 0) / float64(m.n-1))
	}
	return out
}

// positions tracks which positions' tokens agree across the set's pairs.
type positions struct {
	clean, corrupted        []analysis.Token
	cleanVaries, corrVaries []bool
	differs                 []bool
}

func (p *positions) add(clean, corrupted []analysis.Token) {
	if p.clean == nil {
		p.clean, p.corrupted = clean, corrupted
		p.cleanVaries, p.corrVaries, p.differs = make([]bool, len(clean)), make([]bool, len(clean)), make([]bool, len(clean))
	}
	for i := range clean {
		p.cleanVaries[i] = p.cleanVaries[i] || clean[i].ID != p.clean[i].ID
		p.corrVaries[i] = p.corrVaries[i] || corrupted[i].ID != p.corrupted[i].ID
		p.differs[i] = p.differs[i] || clean[i].ID != corrupted[i].ID
	}
}

func (p *positions) labels() []string {
	out := make([]string, len(p.clean))
	tok := func(ts []analysis.Token, varies []bool, i int) string {
		if varies[i] {
			return "*"
		}
		return ts[i].Text
	}
	for i := range out {
		text := tok(p.clean, p.cleanVaries, i)
		if p.differs[i] {
			text += "→" + strings.TrimLeft(tok(p.corrupted, p.corrVaries, i), " ")
		}
		out[i] = fmt.Sprintf("%d %s", i, text)
	}
	return out
}
