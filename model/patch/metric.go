package patch

import (
	"fmt"
	"math"
)

// Metric turns the last-position logits of a patched run into one number.
type Metric uint8

const (
	// LogitDiff is logit(corrupted target) − logit(clean target): the assignment's heatmap.
	LogitDiff Metric = iota
	// CleanTargetDelta is logit(clean target) in the patched corrupted run
	// minus in the clean run: the assignment's informal variant.
	CleanTargetDelta
	// Normalized is (patched − corrupted) / (clean − corrupted) of LogitDiff:
	// 0 at the corrupted baseline, 1 at the clean one, never clamped.
	Normalized
	// ProbDiff is LogitDiff on softmax probabilities.
	ProbDiff
)

var metricNames = [...]string{LogitDiff: "logit_diff", CleanTargetDelta: "clean_target_delta", Normalized: "normalized", ProbDiff: "prob_diff"}

func (m Metric) String() string {
	if int(m) < len(metricNames) {
		return metricNames[m]
	}
	return fmt.Sprintf("Metric(%d)", m)
}

// ParseMetric reads a metric name such as "logit_diff".
func ParseMetric(s string) (Metric, error) {
	for k, n := range metricNames {
		if n == s {
			return Metric(k), nil
		}
	}
	return 0, fmt.Errorf("unknown metric %q (want one of logit_diff, clean_target_delta, normalized, prob_diff)", s)
}

// NeedsProbs reports whether the metric needs the softmax over the whole vocabulary.
func (m Metric) NeedsProbs() bool { return m == ProbDiff }

// Cell is what one run gives at its last position: the logits of the two
// targets and, when probabilities were asked for, the log-sum-exp of all
// logits (NaN otherwise). Every metric is a function of cells.
type Cell struct {
	Clean, Corrupted float32
	LSE              float64
}

// Diff is logit(corrupted target) − logit(clean target).
func (c Cell) Diff() float64 { return float64(c.Corrupted) - float64(c.Clean) }

// ErrFlatBaselines is returned by Normalized when the clean and corrupted
// runs give the same logit difference, so there is nothing to normalise by.
var ErrFlatBaselines = fmt.Errorf("the clean and corrupted runs give the same logit difference, so the normalized metric is undefined: choose targets that the two texts separate, or another metric")

// flatTolerance is how close the two baselines may be before Normalized
// refuses to divide: float32 logits carry about 1e-6 relative noise.
const flatTolerance = 1e-5

// Value computes the metric of one patched cell, given the unpatched clean
// and corrupted runs.
func (m Metric) Value(cell, clean, corrupted Cell) (float64, error) {
	switch m {
	case LogitDiff:
		return cell.Diff(), nil
	case CleanTargetDelta:
		return float64(cell.Clean) - float64(clean.Clean), nil
	case Normalized:
		den := clean.Diff() - corrupted.Diff()
		if math.Abs(den) <= flatTolerance*max(1, math.Abs(clean.Diff()), math.Abs(corrupted.Diff())) {
			return 0, ErrFlatBaselines
		}
		return (cell.Diff() - corrupted.Diff()) / den, nil
	case ProbDiff:
		if math.IsNaN(cell.LSE) {
			return 0, fmt.Errorf("prob_diff needs the sweep to compute probabilities")
		}
		return math.Exp(float64(cell.Corrupted)-cell.LSE) - math.Exp(float64(cell.Clean)-cell.LSE), nil
	}
	return 0, fmt.Errorf("unknown metric %d", m)
}
