package sitetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/promptset"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/tools/serve/web"
)

// The experiment's design on the page (issue #17): noising, Gaussian
// noise, prompt sets.

// openFloat32 loads the fixture's checkpoint in float32 (as TestFloat32GoldenAndExport).
func (tb *tab) openFloat32(workers int, query string) {
	tb.t.Helper()
	tb.open(fmt.Sprintf("?workers=%d%s", workers, query), 1)
	tb.do(chromedp.Click(chromedp.ID("weights-show")),
		chromedp.Click(chromedp.CSS(`input[name=precision][value=f32]`)),
		chromedp.SetValue(chromedp.ID("weights-url"), tb.origin+"/fixtures/tiny/model.safetensors"),
		chromedp.Click(chromedp.ID("weights-fetch")))
	tb.wait("float32 weights", fmt.Sprintf(`patchlab.status().ready && patchlab.status().info && !patchlab.status().info.quantized && patchlab.status().workers.ready >= %d`, workers), 60*time.Second)
}

// choose sets a select's or radio's value as a person would (a change event).
func (tb *tab) choose(selector, value string) {
	tb.t.Helper()
	js, _ := json.Marshal(value)
	eval[chromedp.Void](tb, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %s; e.dispatchEvent(new Event("change", {bubbles: true})); })()`, selector, js))
}

func (tb *tab) radio(name, value string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name=%s][value=%s]`, name, value))))
}

// runSetAndWait clicks Run and waits for the averaged run's end.
func (tb *tab) runSetAndWait() setSnapshot { return tb.runSetAndWaitFor(120 * time.Second) }

func (tb *tab) runSetAndWaitFor(limit time.Duration) setSnapshot {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.ID("run")))
	tb.wait("the set to start", `patchlab.set() !== null || /Nothing/.test(patchlab.status().runStatus)`, 60*time.Second)
	tb.wait("the set to end", `patchlab.set() === null || !patchlab.set().running`, limit)
	s := eval[setSnapshot](tb, `patchlab.set()`)
	if s.Status != "done" {
		tb.t.Fatalf("the set ended with %q: %s", s.Status, eval[string](tb, `patchlab.status().runStatus`))
	}
	return s
}

type setSnapshot struct {
	Running                  bool
	Status                   string
	Pairs, Done              int
	NPairs, NSkipped, NRuns  int
	T                        int
	Sigma                    float64
	Seconds, FirstMeanSecond float64
	FirstPaint               *struct {
		NPairs  int
		Running bool
		Seconds float64
	}
	Peak    struct{ GoHeap, Wasm float64 }
	Moments map[string]struct {
		N                                int
		Diff, DiffStd, Metric, MetricStd []*float64
	}
	PerPair []struct {
		Index  int
		Values map[string]struct{ Diff, Metric []*float64 }
	}
	Results []promptset.PairResult
}

// flat compares a page vector with a golden matrix, row-major.
func flatWorst(t *testing.T, name string, got []*float64, want [][]float64) float64 {
	t.Helper()
	w, i := 0.0, 0
	for _, row := range want {
		for _, v := range row {
			if i >= len(got) || got[i] == nil {
				t.Fatalf("%s: cell %d missing (%d cells)", name, i, len(got))
			}
			w = math.Max(w, math.Abs(*got[i]-v))
			i++
		}
	}
	if i != len(got) {
		t.Fatalf("%s: %d cells, want %d", name, len(got), i)
	}
	return w
}

// TestNoisingGoldenInPage runs the Michelle case noising, every site of
// views-golden.json, on the float32 fixture in the page, against the
// oracle's noise_* matrices; and the JSON export names them so.
func TestNoisingGoldenInPage(t *testing.T) {
	e := setup(t)
	vg := readViewsGolden(t, "michelle")
	tb := newTab(t, e)
	tb.openFloat32(2, "")
	tb.choose("#direction", "noise")
	if help := eval[string](tb, `document.getElementById("direction-help").textContent`); !strings.Contains(help, "Necessary") {
		t.Errorf("the direction's sentence is %q", help)
	}
	for _, ck := range []struct {
		view string
		site string
		want [][]float64
	}{
		{"resid_post", "resid_post", vg.NoiseResidPost},
		{"resid_post", "embed", [][]float64{vg.NoiseEmbed}},
		{"attn_out", "attn_out", vg.NoiseAttnOut},
		{"mlp_out", "mlp_out", vg.NoiseMLPOut},
		{"z", "z", vg.NoiseHeadZAllPositions},
	} {
		if eval[string](tb, `document.getElementById("site").value`) != ck.view {
			tb.choose("#site", ck.view)
		}
		if sw := eval[*pageSweep](tb, fmt.Sprintf(`patchlab.sweep(%q)`, ck.site)); sw == nil || !allDone(sw.Done) {
			tb.runAndWait()
		}
		got := readSweep(tb, ck.site).diffs(t)
		if w := worst(t, ck.site, got, ck.want); w > 1e-4 || math.IsNaN(w) {
			t.Errorf("noising %s in the page: off the golden noise_* by %g", ck.site, w)
		} else {
			t.Logf("noising %s in the page within %.2g of the golden values", ck.site, w)
		}
		if ck.view == "resid_post" && ck.site == "resid_post" {
			caption := eval[string](tb, `document.getElementById("heat-caption").textContent + " | " + document.getElementById("howto-view").textContent`)
			if !strings.Contains(caption, "noising") || !strings.Contains(caption, "Noising: each cell runs the clean text") {
				t.Errorf("the heatmap's caption and help do not say it shows noising: %q", caption)
			}
		}
	}
	tb.choose("#site", "resid_post")
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(tb.download("export-json"), &rec); err != nil {
		t.Fatal(err)
	}
	var noiseResid [][]float64
	if err := json.Unmarshal(rec["noise_resid_post"], &noiseResid); err != nil {
		t.Fatalf("the export has no noise_resid_post: %v (fields %v)", err, keys(rec))
	}
	if w := worst(t, "export noise_resid_post", noiseResid, vg.NoiseResidPost); w > 1e-4 {
		t.Errorf("the export's noise_resid_post is off by %g", w)
	}
	if _, ok := rec["patch_resid_post"]; ok {
		t.Errorf("the noising export also has patch_resid_post")
	}
	if !strings.Contains(eval[string](tb, `location.hash`), "direction=noise") {
		t.Errorf("the link does not carry the direction: %s", eval[string](tb, `location.hash`))
	}
}

func allDone(d []int) bool {
	for _, v := range d {
		if v != 1 {
			return false
		}
	}
	return len(d) > 0
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestGaussianNoiseMatchesNative corrupts the Michelle case with Gaussian
// noise (3 seeds from 5, scale 2, positions 1 and 2) on the web-format
// weights in two workers, and compares the page's mean and spread with
// promptset.Set run natively on the same weights with the same seed.
func TestGaussianNoiseMatchesNative(t *testing.T) {
	e := setup(t)
	g := e.golden.find("michelle")
	tb := newTab(t, e)
	tb.open("?workers=2", 2)
	tb.radio("corruption", "noise")
	tb.setInput("design-noise_positions", "1,2")
	tb.setInput("design-noise_scale", "2")
	tb.setInput("design-noise_seeds", "3")
	tb.setInput("design-seed", "5")
	got := tb.runSetAndWait()

	m, err := webfmt.Load(filepath.Join(e.dist, "weights"))
	if err != nil {
		t.Fatal(err)
	}
	sites := []patch.Site{{Kind: 0}, {Kind: 0}}
	sites[0], _ = patch.ParseSite("embed")
	sites[1], _ = patch.ParseSite("resid_post")
	set, err := promptset.New(m, bpe.New(), promptset.Options{Sites: sites, Metric: patch.LogitDiff, Noise: &promptset.Noise{Scale: 2, Seed: 5, Seeds: 3, Positions: []int{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	p := promptset.Pair{}
	p.Clean, p.Corrupted, p.CleanTarget, p.CorruptedTarget = g.Clean, g.Corrupted, g.CleanTarget, g.CorruptedTarget
	if _, err := set.Add(context.Background(), 0, p); err != nil {
		t.Fatal(err)
	}
	if got.NRuns != 3 || set.Runs != 3 {
		t.Fatalf("runs: page %d, native %d", got.NRuns, set.Runs)
	}
	if math.Abs(got.Sigma-set.Sigma) > 1e-9 {
		t.Errorf("σ: page %g, native %g", got.Sigma, set.Sigma)
	}
	for _, s := range sites {
		mean, std, _ := set.Values(s, patch.LogitDiff)
		pm := got.Moments[s.String()]
		wm := flatWorst(t, s.String()+" mean", pm.Diff, [][]float64{mean})
		ws := flatWorst(t, s.String()+" std", pm.DiffStd, [][]float64{std})
		if max(wm, ws) > 1e-5 || math.IsNaN(wm+ws) {
			t.Errorf("%s: the page's noise runs differ from the native ones: mean by %g, std by %g", s, wm, ws)
		} else {
			t.Logf("%s: page = native within %.2g (mean), %.2g (std)", s, wm, ws)
		}
	}
	hash := eval[string](tb, `location.hash`)
	for _, want := range []string{"corruption=noise", "noise_scale=2", "noise_seeds=3", "noise_positions=1%2C2", "seed=5"} {
		if !strings.Contains(hash, want) {
			t.Errorf("the link %s lacks %s", hash, want)
		}
	}
	var rec promptset.Record
	if err := json.Unmarshal([]byte(eval[string](tb, `patchlab.setRecord()`)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Corruption != "noise" || rec.Noise == nil || rec.Noise.Seed != 5 || rec.Noise.Seeds != 3 || fmt.Sprint(rec.Noise.Positions) != "[1 2]" || rec.NRuns != 3 {
		t.Errorf("the export's design: %+v, noise %+v", rec, rec.Noise)
	}
}

// TestPromptSetOfGoldenCases pastes the fixture's two equal-length golden
// cases as a set (and a line that is not a pair) on the float32 fixture:
// the averaged logit difference is the mean of their golden matrices, the
// spread their standard deviation, each pair's heatmap is its golden
// matrix, the bad line is skipped with its reason; the averaged heatmap is
// painted after the first pair (one worker, the runs slowed down).
func TestPromptSetOfGoldenCases(t *testing.T) {
	e := setup(t)
	a, b := e.golden.find("michelle"), e.golden.find("michelle-jessica")
	tb := newTab(t, e)
	tb.openFloat32(1, "&row_delay_ms=400")
	var lines []string
	for _, c := range []fixture.Case{a, b} {
		l, _ := json.Marshal(map[string]string{"clean": c.Clean, "corrupted": c.Corrupted, "clean_target": c.CleanTarget, "corrupted_target": c.CorruptedTarget})
		lines = append(lines, string(l))
	}
	lines = append(lines, "not a pair")
	js, _ := json.Marshal(strings.Join(lines, "\n"))
	eval[chromedp.Void](tb, fmt.Sprintf(`patchlab.setJSONL(%s)`, js))
	got := tb.runSetAndWait()
	if got.NPairs != 2 || got.NSkipped != 1 || got.Results[2].Reason != "not_json" {
		t.Fatalf("pairs %d, skipped %d, results %+v", got.NPairs, got.NSkipped, got.Results)
	}
	if got.FirstPaint == nil || got.FirstPaint.NPairs != 1 || !got.FirstPaint.Running {
		t.Errorf("the averaged heatmap was first painted at %+v, want after the first pair with the set still running", got.FirstPaint)
	}
	mean := func(x, y [][]float64, sd bool) [][]float64 {
		out := make([][]float64, len(x))
		for r := range x {
			for c := range x[r] {
				v := (x[r][c] + y[r][c]) / 2
				if sd {
					v = math.Abs(x[r][c]-y[r][c]) / math.Sqrt2
				}
				out[r] = append(out[r], v)
			}
		}
		return out
	}
	for _, ck := range []struct {
		site string
		a, b [][]float64
	}{
		{"resid_post", a.PatchResidPost, b.PatchResidPost},
		{"embed", [][]float64{a.PatchEmbed}, [][]float64{b.PatchEmbed}},
	} {
		pm := got.Moments[ck.site]
		if w := flatWorst(t, ck.site, pm.Diff, mean(ck.a, ck.b, false)); w > 1e-4 {
			t.Errorf("%s: the set's mean is off the mean of the golden matrices by %g", ck.site, w)
		} else {
			t.Logf("%s: the set's mean within %.2g of the golden mean", ck.site, w)
		}
		if w := flatWorst(t, ck.site+" std", pm.DiffStd, mean(ck.a, ck.b, true)); w > 1e-4 {
			t.Errorf("%s: the set's spread is off the golden matrices' by %g", ck.site, w)
		}
		for i, want := range [][][]float64{ck.a, ck.b} {
			if w := flatWorst(t, fmt.Sprintf("%s pair %d", ck.site, i), got.PerPair[i].Values[ck.site].Diff, want); w > 1e-4 {
				t.Errorf("%s: pair %d's heatmap is off its golden matrix by %g", ck.site, i, w)
			}
		}
	}
	for i, c := range []fixture.Case{a, b} {
		r := got.Results[i]
		if math.Abs(r.CleanLogitDiff-c.CleanLogitDiff) > 1e-4 || math.Abs(r.CorruptedLogitDiff-c.CorruptedLogitDiff) > 1e-4 {
			t.Errorf("pair %d's baselines %g, %g; golden %g, %g", i, r.CleanLogitDiff, r.CorruptedLogitDiff, c.CleanLogitDiff, c.CorruptedLogitDiff)
		}
	}
	rowsShown := eval[int](tb, `document.querySelectorAll("#set-pairs tbody tr").length`)
	progress := eval[string](tb, `document.getElementById("set-progress").textContent`)
	if rowsShown != 3 || !strings.Contains(progress, "3 of 3 pairs done") {
		t.Errorf("the pairs table has %d rows; progress %q", rowsShown, progress)
	}
	// A pair one click away, and the spread on hover.
	tb.choose("#set-show", "1")
	title := eval[string](tb, `document.getElementById("set-caption").textContent`)
	if !strings.Contains(title, "pair 1") {
		t.Errorf("choosing pair 1 shows %q", title)
	}
	tb.choose("#set-show", "mean")
	tip := eval[string](tb, `(() => { const c = document.getElementById("set-heatmap"), r = c.getBoundingClientRect();
		c.dispatchEvent(new MouseEvent("mousemove", {clientX: r.left + r.width * 0.5, clientY: r.top + r.height * 0.3, bubbles: true}));
		return document.getElementById("set-tooltip").textContent; })()`)
	if !strings.Contains(tip, "±") || !strings.Contains(tip, "std") {
		t.Errorf("the tooltip %q does not give the spread", tip)
	}
	shot, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100)) // PNG
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", artifact(t, "patchlab-promptset.png", shot))
}

// TestIOISetGPT2SmallFigures measures, in Chromium on a random
// GPT-2-small-shaped model in the web format, the single-pair sweep of an
// IOI prompt against a 20-pair IOI set, and the workers' peak Go heap and
// the page's JavaScript heap at 20 and at 100 pairs. It reports figures
// (no assertion on time) and runs only with PATCHLAB_HEAVY=1 (minutes).
func TestIOISetGPT2SmallFigures(t *testing.T) {
	if os.Getenv("PATCHLAB_HEAVY") == "" {
		t.Skip("set PATCHLAB_HEAVY=1 to measure prompt sets on a GPT-2-small-shaped model in the browser")
	}
	e := setup(t)
	dist := t.TempDir()
	entries, err := os.ReadDir(e.dist)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Name() != "weights" {
			if err := os.Symlink(filepath.Join(e.dist, en.Name()), filepath.Join(dist, en.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := webfmt.ConvertModel(gpt2.Random(gpt2.Small, 1), webfmt.DefaultBits, nil, filepath.Join(dist, "weights"), nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.Handler(dist))
	defer srv.Close()
	tabLimit = 2 * time.Hour
	defer func() { tabLimit = 4 * time.Minute }()
	tb := newTab(t, e)
	tb.origin = srv.URL
	tb.open("?sw=0&workers=2", 2)
	pairs, _ := promptset.Generate("ioi:1", 1)
	for _, f := range []struct{ id, v string }{{"clean", pairs[0].Clean}, {"corrupted", pairs[0].Corrupted}, {"clean_target", pairs[0].CleanTarget}, {"corrupted_target", pairs[0].CorruptedTarget}} {
		tb.setInput(f.id, f.v)
	}
	tb.runAndWait()
	single := eval[struct{ SweepSeconds, FirstRowSeconds float64 }](tb, `patchlab.timings()`)
	t.Logf("single IOI pair (14 tokens, resid_post + embed, 2 workers): %.2f s (first row %.2f s)", single.SweepSeconds, single.FirstRowSeconds)
	tb.radio("design-mode", "set")
	for _, n := range []int{20, 100} {
		tb.setInput("design-count", fmt.Sprint(n))
		got := tb.runSetAndWaitFor(time.Hour)
		js := eval[float64](tb, `performance.memory ? performance.memory.usedJSHeapSize / 1048576 : -1`)
		first := 0.0
		if got.FirstPaint != nil {
			first = got.FirstPaint.Seconds
		}
		t.Logf("ioi:%d: %d pairs in %.1f s (%.1f× the single pair), first averaged heatmap after %.2f s; workers' peak Go heap %.0f MB, wasm memory %.0f MB; page JS heap %.1f MB",
			n, got.NPairs, got.Seconds, got.Seconds/single.SweepSeconds, first, got.Peak.GoHeap, got.Peak.Wasm, js)
	}
}
