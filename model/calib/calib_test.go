package calib

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/model/weights"
)

// goal is what patchlab promises of the web format: every cell of every
// patching heatmap within 2% of the float32 heatmap's range.
const goal = 0.02

func tinyModel(t testing.TB) *gpt2.Model {
	path, err := fixture.TinyModel()
	if err != nil {
		t.Fatal(err)
	}
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkWebFormat compares a session on the web format's model q with the
// float32 session f through the same code: the top-20 tables agree except
// where two tokens' float32 probabilities are within 1e-4 of each other, and
// every cell of every heatmap is within goal × the float32 heatmap's range,
// for every metric.
func checkWebFormat(t *testing.T, name string, f *patch.Session, q *gpt2.Model, sites []patch.Site) {
	t.Helper()
	qs, err := patch.NewSession(q, f.CleanIDs, f.CorruptedIDs, f.CleanTarget, f.CorruptedTarget)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2][]float32{{f.CleanLogits, qs.CleanLogits}, {f.CorruptedLogits, qs.CorruptedLogits}} {
		want, got := patch.Top(pair[0], 20), patch.Top(pair[1], 20)
		p := func(id int) float64 { return math.Exp(float64(pair[0][id]) - patch.LogSumExp(pair[0])) }
		for i := range want {
			if got[i].ID != want[i].ID && math.Abs(p(got[i].ID)-p(want[i].ID)) > 1e-4 {
				t.Errorf("%s: top-20 #%d is %d in the web format, %d in float32 (float32 probabilities %.6f, %.6f)", name, i, got[i].ID, want[i].ID, p(got[i].ID), p(want[i].ID))
			}
		}
	}
	for _, site := range sites {
		mf, err := f.Sweep(context.Background(), site, patch.Options{Probs: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		mq, err := qs.Sweep(context.Background(), site, patch.Options{Probs: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, metric := range []patch.Metric{patch.LogitDiff, patch.CleanTargetDelta, patch.Normalized, patch.ProbDiff} {
			vf, err := f.Values(mf, metric)
			if err != nil {
				t.Fatal(err)
			}
			vq, err := qs.Values(mq, metric)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi, worst := math.Inf(1), math.Inf(-1), 0.0
			for i := range vf {
				lo, hi = min(lo, vf[i]), max(hi, vf[i])
				worst = max(worst, math.Abs(vq[i]-vf[i]))
			}
			if rel := worst / (hi - lo); !(rel <= goal) {
				t.Errorf("%s %v %v: web format off by %.4g = %.2f%% of the float32 range %.4g", name, site, metric, worst, 100*rel, hi-lo)
			} else if metric == patch.LogitDiff {
				t.Logf("%s %v: worst cell off by %.3f%% of the range", name, site, 100*rel)
			}
		}
	}
}

// TestGoldenWithChosenWidth converts the tiny fixture as the converter does
// by default and checks the golden cases, texts the calibration never saw.
func TestGoldenWithChosenWidth(t *testing.T) {
	m := tinyModel(t)
	bits, q := chooseAndCheck(t, m)
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	for _, gc := range cases {
		if gc.Error != "" {
			continue
		}
		f, err := patch.NewSession(m, gc.CleanIDs, gc.CorruptedIDs, gc.CleanTargetID, gc.CorruptedTargetID)
		if err != nil {
			t.Fatal(err)
		}
		checkWebFormat(t, fmt.Sprintf("%s, %d bits", gc.Name, bits), f, q, patch.Sites)
	}
}

// TestRandomWithChosenWidth converts a random model as the converter does
// by default and checks the Michelle example on it, texts it did not
// calibrate on. Random models' heatmaps are faint (their patching effects a
// few hundredths of a logit), so the converter picks wide codes for them:
// 14 bits for GPT-2 small's shape, 0.39× the float32 file, where GPT-2
// small itself would take 9 (0.26×) if its calibration heatmaps allow.
// GPT-2 small's shape takes minutes, so by default the model is a
// narrower one (the property does not depend on the size);
// PATCHLAB_HEAVY=1 takes GPT-2 small's.
func TestRandomWithChosenWidth(t *testing.T) {
	cfg := gpt2.Config{Layers: 2, Heads: 12, Width: 768, Context: 64, Vocab: gpt2.Small.Vocab}
	if os.Getenv("PATCHLAB_HEAVY") != "" {
		cfg = gpt2.Small
	}
	m := gpt2.Random(cfg, 1)
	bits, q := chooseAndCheck(t, m)
	clean := []int{48736, 5437, 373, 257, 1353, 12, 1662, 354, 3710, 13, 16738} // Michelle Jones was a top-notch student. Michelle
	corrupted := append([]int(nil), clean...)
	corrupted[1] = 4176 // Smith
	f, err := patch.NewSession(m, clean, corrupted, 5437, 4176)
	if err != nil {
		t.Fatal(err)
	}
	sites := []patch.Site{{Kind: gpt2.ResidPost}, {Kind: gpt2.AttnOut}, {Kind: gpt2.MLPOut}, {Kind: gpt2.Z}}
	checkWebFormat(t, fmt.Sprintf("random %d-layer, width %d, %d bits", cfg.Layers, cfg.Width, bits), f, q, sites)
}

// chooseAndCheck runs Choose with the default tolerance, logs its trials
// and checks its search (checkSearch).
func chooseAndCheck(t *testing.T, m *gpt2.Model) (int, *gpt2.Model) {
	t.Helper()
	bits, q, trials, err := Choose(context.Background(), m, Tolerance, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		t.Log(tr)
	}
	checkSearch(t, bits, trials)
	return bits, q
}

// checkSearch checks that Choose stopped at the first width within the
// tolerance, after widths that were not, and jumped no further after the
// first trial than its error predicts (each bit halving it).
func checkSearch(t *testing.T, bits int, trials []Trial) {
	t.Helper()
	last := trials[len(trials)-1]
	if last.Bits != bits || last.Worst > Tolerance {
		t.Errorf("chose %d bits after %v", bits, trials)
	}
	for i, tr := range trials[:len(trials)-1] {
		if tr.Worst <= Tolerance || trials[i+1].Bits <= tr.Bits {
			t.Errorf("went on after %v", tr)
		}
	}
	if len(trials) > 1 {
		if predicted := float64(trials[0].Bits) + math.Log2(trials[0].Worst/Tolerance); float64(trials[1].Bits) > predicted {
			t.Errorf("jumped from %v to %d bits, beyond the %.1f its error predicts", trials[0], trials[1].Bits, predicted)
		}
	}
}

// TestChooseStopsAtTolerance: a tolerance every width meets keeps the
// narrowest, one none meets tries up to the widest and keeps it; a trial's
// error shrinks with the width.
func TestChooseStopsAtTolerance(t *testing.T) {
	m := tinyModel(t)
	bits, q, trials, err := Choose(context.Background(), m, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bits != webfmt.DefaultBits || len(trials) != 1 || q.Blocks[0].FC.(*tensor.QN).Bits != bits {
		t.Errorf("tolerance 1: %d bits after %v", bits, trials)
	}
	var seen []int
	bits, q, trials, err = Choose(context.Background(), m, 1e-9, func(tr Trial) { seen = append(seen, tr.Bits) })
	if err != nil {
		t.Fatal(err)
	}
	if last := trials[len(trials)-1]; bits != webfmt.MaxBits || last.Bits != bits || len(seen) != len(trials) || q.WTE.(*tensor.QN).Bits != webfmt.WTEBits(bits) {
		t.Errorf("tolerance 1e-9: %d bits after %v (reported %v)", bits, trials, seen)
	}
	if first, last := trials[0], trials[len(trials)-1]; !(last.Worst < first.Worst/10) || !(last.Bytes > first.Bytes) {
		t.Errorf("16 bits against 9: error %g against %g, %d bytes against %d", last.Worst, first.Worst, last.Bytes, first.Bytes)
	}
	for _, tol := range []float64{0, -0.1, 1.5, math.NaN()} {
		if _, _, _, err := Choose(context.Background(), m, tol, nil); err == nil || !strings.Contains(err.Error(), "want a fraction") {
			t.Errorf("tolerance %g: %v", tol, err)
		}
	}
}
