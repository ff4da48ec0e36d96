package patch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/patchlab/patchlab/model/gpt2"
)

// Gaussian-noise corruption (Meng et al. 2022, "causal tracing"): the
// corrupted run is the clean text with noise added to the embedding (token +
// position) of chosen positions, so no corrupted text is needed.

// EmbedStd is the standard deviation of all the entries of the token
// embedding matrix wte (over Vocab × Width values, dividing by their count):
// the unit of the noise's scale.
func EmbedStd(m *gpt2.Model) float64 {
	row := make([]float32, m.Width)
	var sum float64
	for r := range m.Vocab {
		m.WTE.Row(row, r)
		for _, v := range row {
			sum += float64(v)
		}
	}
	n := float64(m.Vocab * m.Width)
	mean := sum / n
	var sq float64
	for r := range m.Vocab {
		m.WTE.Row(row, r)
		for _, v := range row {
			d := float64(v) - mean
			sq += d * d
		}
	}
	return math.Sqrt(sq / n)
}

// noiseStream is the PCG stream of the noise (any constant; fixed so that a
// seed always gives the same numbers).
const noiseStream = 0x70617463686c6162 // "patchlab"

// GaussianNoise is one seed's noise for t positions of width values:
// independent N(0, sigma²) values at the given positions (ascending, each
// once), zero elsewhere, [t][width]. The draws come from math/rand/v2's PCG
// (seeded with seed and a fixed stream) through NormFloat64, position after
// position, each rounded to float32: pure Go, so the same seed gives the
// same numbers on every platform, natively and in WebAssembly.
func GaussianNoise(t, width int, positions []int, sigma float64, seed uint64) ([]float32, error) {
	if err := checkPositions(positions, t); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, noiseStream))
	out := make([]float32, t*width)
	for _, p := range positions {
		for i := range width {
			out[p*width+i] = float32(sigma * r.NormFloat64())
		}
	}
	return out, nil
}

// checkPositions checks noise positions: ascending, each once, within 0…t−1.
func checkPositions(positions []int, t int) error {
	if len(positions) == 0 {
		return fmt.Errorf("no positions to add noise to: give at least one")
	}
	if !slices.IsSorted(positions) || len(slices.Compact(slices.Clone(positions))) != len(positions) {
		return fmt.Errorf("noise positions %v: list each position once, in increasing order", positions)
	}
	if positions[0] < 0 || positions[len(positions)-1] >= t {
		return fmt.Errorf("noise positions %v: the text has %d tokens, so positions run from 0 to %d", positions, t, t-1)
	}
	return nil
}

// NewNoiseSession runs the clean text, and as the corrupted run the clean
// text with noise ([T][Width], from GaussianNoise) added to its embedding.
// The targets keep their meaning: the metric is still logit(corrupted
// target) − logit(clean target).
func NewNoiseSession(m *gpt2.Model, clean []int, noise []float32, cleanTarget, corruptedTarget int) (*Session, error) {
	s, err := NewSession(m, clean, clean, cleanTarget, corruptedTarget)
	if err != nil {
		return nil, err
	}
	return s.Renoise(noise)
}

// Renoise is a session with the same clean run (shared, not rerun) and
// another noise: the next seed of a noise corruption.
func (s *Session) Renoise(noise []float32) (*Session, error) {
	m, T := s.Model, s.T()
	if len(noise) != T*m.Width {
		return nil, fmt.Errorf("noise of %d values for %d tokens of width %d", len(noise), T, m.Width)
	}
	n := *s
	n.CorruptedIDs, n.Noise = s.CleanIDs, noise
	hook := func(at gpt2.Site, start int, act []float32) {
		if at.Kind == gpt2.Embed {
			addNoise(act, noise, start, m.Width)
		}
	}
	var err error
	if n.CorruptedLogits, n.Corrupted, err = m.Forward(s.CleanIDs, hook, true); err != nil {
		return nil, fmt.Errorf("noised text: %w", err)
	}
	n.CorruptedBase = n.cellOf(n.CorruptedLogits, true)
	n.FirstDiff = T
	for p := range T {
		if slices.ContainsFunc(noise[p*m.Width:(p+1)*m.Width], func(v float32) bool { return v != 0 }) {
			n.FirstDiff = p
			break
		}
	}
	return &n, nil
}

// addNoise adds noise's rows start… to the embedding rows act.
func addNoise(act, noise []float32, start, width int) {
	gpt2.Add(act, act, noise[start*width:start*width+len(act)])
}
