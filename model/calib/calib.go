// Package calib chooses the code width of the web format for a model by
// measuring what quantisation does to its patching heatmaps.
//
// How much a heatmap moves under quantisation depends on the model: a
// trained GPT-2's patching effects are logits wide, a random model's are
// hundredths of its logits' spread, and a tiny random one (the test
// fixture) is so sensitive that int8 weights move its heatmaps by a fifth of
// their range. So rather than one width for every checkpoint, the converter
// tries widths from webfmt.DefaultBits up and keeps the narrowest whose
// heatmaps on a few calibration pairs stay within a tolerance of float32's.
package calib

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/model/weights"
)

// Pairs are the calibration pairs: two of the page's presets, which are not
// the texts the tests check the result on.
var Pairs = []analysis.Request{
	{Clean: "Karen Miller and Paul Harris sat down. Paul", Corrupted: "Karen Miller and Paul Harris sat down. Karen",
		CleanTarget: " Harris", CorruptedTarget: " Miller"},
	{Clean: "When Mary and John went to the store, John gave a drink to", Corrupted: "When Mary and John went to the store, Mary gave a drink to",
		CleanTarget: " Mary", CorruptedTarget: " John"},
}

// Sites are the heatmaps measured: every site but the per-head ones, whose
// errors follow the attention outputs they add up to.
var Sites = []patch.Site{{Kind: gpt2.ResidPost}, {Kind: gpt2.AttnOut}, {Kind: gpt2.MLPOut}}

// Tolerance is the default limit on a heatmap cell's error, as a fraction
// of the float32 heatmap's range (max − min): a quarter of the 2% patchlab
// promises, since other texts can fare worse than the calibration pairs. (On
// the tiny fixture, 1% chose 11 bits, at which a golden case was off by
// 5.7%; 0.5% chose 13 bits, where the golden cases are within 0.5%.)
const Tolerance = 0.005

// Trial is one width tried.
type Trial struct {
	Bits  int
	Worst float64 // the largest cell error as a fraction of its heatmap's range
	Where string  // which pair and site
	Bytes int64   // the quantised model's weights in memory
}

func (t Trial) String() string {
	return fmt.Sprintf("%d-bit codes: worst cell off by %.2f%% of its heatmap's range (%s)", t.Bits, 100*t.Worst, t.Where)
}

// Choose quantises m with codes from webfmt.DefaultBits bits up to
// webfmt.MaxBits and returns the first width whose calibration heatmaps are
// within tol of m's (the widest if none is), its model and every trial.
// After the first trial it skips the widths that trial's error rules out,
// since each bit halves the error (a width it skips would pass only by the
// luck of the rounding). progress, if not nil, is called after each trial.
func Choose(ctx context.Context, m *gpt2.Model, tol float64, progress func(Trial)) (int, *gpt2.Model, []Trial, error) {
	if err := CheckTolerance(tol); err != nil {
		return 0, nil, nil, err
	}
	ref, err := reference(ctx, m)
	if err != nil {
		return 0, nil, nil, err
	}
	quantize := func(bits int) (*gpt2.Model, error) { return webfmt.Quantize(m, bits), nil }
	return ref.choose(ctx, quantize, tol, progress)
}

// CheckTolerance returns an error unless tol is a usable tolerance.
func CheckTolerance(tol float64) error {
	if !(tol > 0 && tol <= 1) {
		return fmt.Errorf("calib: tolerance %g: want a fraction of a heatmap's range, more than 0 and at most 1 (the default is %g)", tol, Tolerance)
	}
	return nil
}

func (ref *heatmaps) choose(ctx context.Context, quantize func(bits int) (*gpt2.Model, error), tol float64, progress func(Trial)) (int, *gpt2.Model, []Trial, error) {
	var trials []Trial
	bits := webfmt.DefaultBits
	for {
		q, err := quantize(bits)
		if err != nil {
			return 0, nil, nil, err
		}
		t := Trial{Bits: bits, Bytes: q.Bytes()}
		if t.Worst, t.Where, err = ref.compare(ctx, q); err != nil {
			return 0, nil, nil, err
		}
		trials = append(trials, t)
		if progress != nil {
			progress(t)
		}
		if t.Worst <= tol || bits == webfmt.MaxBits {
			return bits, q, trials, nil
		}
		next := bits + 1
		if len(trials) == 1 && t.Worst > 0 && !math.IsInf(t.Worst, 0) {
			next = max(next, bits+int(math.Log2(t.Worst/tol))-1)
		}
		bits = min(next, webfmt.MaxBits)
	}
}

// heatmaps are the float32 model's calibration heatmaps (not the model).
type heatmaps []pairHeatmaps

type pairHeatmaps struct {
	label                   string
	clean, corrupted        []int
	cleanTarget, corrTarget int
	values                  [][]float64 // [site] logit differences
}

func reference(ctx context.Context, m *gpt2.Model) (*heatmaps, error) {
	var h heatmaps
	for _, req := range Pairs {
		a, err := analysis.New(m, bpe.New(), req)
		if err != nil {
			return nil, fmt.Errorf("calib: calibration pair %q: %w (give the width yourself to convert without calibrating)", req.Clean, err)
		}
		s := a.Session
		p := pairHeatmaps{label: req.Clean, clean: s.CleanIDs, corrupted: s.CorruptedIDs, cleanTarget: s.CleanTarget, corrTarget: s.CorruptedTarget}
		for _, site := range Sites {
			v, err := values(ctx, s, site)
			if err != nil {
				return nil, err
			}
			p.values = append(p.values, v)
		}
		h = append(h, p)
	}
	return &h, nil
}

// compare returns the largest cell error of q's heatmaps as a fraction of
// the float32 heatmap's range, and where it is.
func (h *heatmaps) compare(ctx context.Context, q *gpt2.Model) (float64, string, error) {
	worst, where := 0.0, ""
	for _, p := range *h {
		qs, err := patch.NewSession(q, p.clean, p.corrupted, p.cleanTarget, p.corrTarget)
		if err != nil {
			return 0, "", err
		}
		for j, site := range Sites {
			got, err := values(ctx, qs, site)
			if err != nil {
				return 0, "", err
			}
			want := p.values[j]
			lo, hi, off := math.Inf(1), math.Inf(-1), 0.0
			for k := range want {
				lo, hi = min(lo, want[k]), max(hi, want[k])
				off = max(off, math.Abs(got[k]-want[k]))
			}
			// A NaN (flat heatmap, broken weights) is the worst and stays so.
			if r := off / (hi - lo); !math.IsNaN(worst) && !(r <= worst) {
				worst, where = r, fmt.Sprintf("%q, %v", p.label, site)
			}
		}
	}
	return worst, where, nil
}

func values(ctx context.Context, s *patch.Session, site patch.Site) ([]float64, error) {
	mx, err := s.Sweep(ctx, site, patch.Options{}, nil)
	if err != nil {
		return nil, err
	}
	return s.Values(mx, patch.LogitDiff)
}

// Auto asks Convert to choose the width.
const Auto = 0

// Convert converts a Hugging Face GPT-2 checkpoint to the web format in
// outDir with codes of the given width, streaming one tensor at a time
// (webfmt.Convert). With bits = Auto it first chooses the width as Choose
// does, reporting each trial to report (if not nil), in at most the
// checkpoint's size in memory: the float32 model only while it computes
// the reference heatmaps, then each trial's quantised model, read tensor by
// tensor (webfmt.Quantized), the last of which it writes, with what it
// measured in the manifest. tol 0 means Tolerance. progress is
// webfmt.Convert's.
func Convert(ctx context.Context, src *safetensors.File, configJSON []byte, outDir string, bits int, tol float64, report func(Trial), progress func(done, total int64)) error {
	if bits != Auto {
		return webfmt.Convert(ctx, src, configJSON, outDir, bits, progress)
	}
	if tol == 0 {
		tol = Tolerance
	}
	if err := CheckTolerance(tol); err != nil {
		return err
	}
	m, err := weights.FromSafetensors(src, configJSON)
	if err != nil {
		return err
	}
	ref, err := reference(ctx, m)
	if err != nil {
		return err
	}
	// The reference keeps none of the float32 model, no longer used:
	// collect it so that the trials have its memory.
	runtime.GC()
	quantize := func(bits int) (*gpt2.Model, error) { return webfmt.Quantized(ctx, src, configJSON, bits) }
	bits, q, trials, err := ref.choose(ctx, quantize, tol, report)
	if err != nil {
		return err
	}
	cal := &webfmt.Calibration{Tolerance: tol, Worst: trials[len(trials)-1].Worst}
	return webfmt.ConvertModel(q, bits, cal, outDir, progress)
}
