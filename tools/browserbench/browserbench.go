package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/tools/serve/web"
	"github.com/patchlab/patchlab/tools/sitetest/drive"
)

// Options tune a run. The zero value is the standard benchmark.
type Options struct {
	// Tokens is the number of tokens of each text (default 11); the texts
	// differ at position 1, as in the README's Michelle Jones/Smith example.
	Tokens int
	// Seed seeds the random weights (default 1).
	Seed uint64
	// Workers is the number of web workers (0: what the page picks for
	// this machine: its cores, at most 4, as memory allows).
	Workers int
	// Runs times the sweep that many times and reports the fastest (default 1).
	Runs int
	// Bits is the web format's code width (default webfmt.DefaultBits).
	Bits int
	// Browser is the engine: chromium (default), firefox or webkit (see
	// tools/sitetest/drive; Chromium is $PATCHLAB_CHROMIUM or found on the PATH).
	Browser string
	// Root is the patchlab module (default: found from the working directory).
	Root string
	// Log, if not nil, receives progress lines.
	Log io.Writer
}

// Run builds, serves and measures; the result is
// {"engine":"wasm-chromium" (or -firefox, -webkit), "workers", "cells", "sweep_seconds",
// "first_row_seconds", "load_seconds", "reload_seconds" (the page opened
// again, the weights in the browser's cache: until every worker is ready),
// "reload_warm_seconds" (until the workers' warm-up after it is over too),
// "load_phases", "reload_phases" (where the time went, the slowest worker's
// figure of each phase, PROTOCOL.md: loaded), "wasm_gzip_bytes", "wasm_heap_mb", …}.
// The weights are in the web format, with opts.Bits-bit codes.
func Run(ctx context.Context, opts Options) (map[string]any, error) {
	if opts.Bits == 0 {
		opts.Bits = webfmt.DefaultBits
	}
	if opts.Tokens == 0 {
		opts.Tokens = 11
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Runs < 1 {
		opts.Runs = 1
	}
	if opts.Browser == "" {
		opts.Browser = "chromium"
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "browserbench: "+format+"\n", args...)
		}
	}
	if why := drive.Missing(opts.Browser); why != "" {
		return nil, errors.New(why)
	}
	req, err := texts(opts.Tokens)
	if err != nil {
		return nil, err
	}
	root := opts.Root
	if root == "" {
		if root, err = web.ModuleRoot("."); err != nil {
			return nil, err
		}
	}

	tmp, err := os.MkdirTemp("", "patchlab-browserbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dist := filepath.Join(tmp, "dist")
	start := time.Now()
	rep, err := web.Build(ctx, root, dist)
	if err != nil {
		return nil, err
	}
	logf("built the site in %.1fs: %s", time.Since(start).Seconds(), rep)
	start = time.Now()
	if err := webfmt.ConvertModel(gpt2.Random(gpt2.Small, opts.Seed), opts.Bits, nil, filepath.Join(dist, "weights"), nil); err != nil {
		return nil, err
	}
	logf("converted a random GPT-2 small to the web format (%d-bit codes) in %.1fs", opts.Bits, time.Since(start).Seconds())

	srv := httptest.NewServer(web.Handler(dist))
	defer srv.Close()
	b, err := drive.Start(ctx, opts.Browser)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	p := &page{ctx: ctx, b: b}

	url := srv.URL + "/?sw=0"
	if opts.Workers > 0 {
		url += fmt.Sprintf("&workers=%d", opts.Workers)
	}
	// visit opens the page and waits until every worker holds the model.
	visit := func(what string) (float64, pageStatus, error) {
		start := time.Now()
		if err := b.Open(ctx, url); err != nil {
			return 0, pageStatus{}, fmt.Errorf("opening the page: %w", err)
		}
		if err := p.wait(`window.patchlab && patchlab.status().ready && patchlab.status().workers.ready === patchlab.status().workers.total`, 10*time.Minute); err != nil {
			return 0, pageStatus{}, fmt.Errorf("%s: %w", what, err)
		}
		secs := time.Since(start).Seconds()
		st, err := eval[pageStatus](p, `(() => {
			const nav = performance.getEntriesByType("navigation")[0] || {};
			return {...patchlab.status(), marks: {...patchlab.timings().marks, html: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd}};
		})()`)
		if err == nil {
			st.Workers.Phases.onPageClock(st.Marks["timeOrigin"])
			delete(st.Marks, "timeOrigin")
		}
		return secs, st, err
	}
	load, status, err := visit("loading the model")
	if err != nil {
		return nil, err
	}
	logf("%s loaded the model in %d workers in %.1fs", opts.Browser, status.Workers.Ready, load)
	logf("where the load went: page %v%s", status.Marks, status.Workers.Phases)
	// The second visit: the same page again, the weights in Cache Storage.
	restart := time.Now()
	reload, restatus, err := visit("loading the model again")
	if err != nil {
		return nil, err
	}
	// The workers warm up once ready; a request for the engine waits for it.
	if _, err := eval[any](p, `patchlab.memory()`); err != nil {
		return nil, err
	}
	rewarm := time.Since(restart).Seconds()
	logf("%s loaded the model again, from its cache, in %d workers in %.1fs (warmed up after %.1fs)", opts.Browser, restatus.Workers.Ready, reload, rewarm)
	logf("where the reload went: page %v%s", restatus.Marks, restatus.Workers.Phases)

	js, _ := json.Marshal(req)
	if _, err := eval[any](p, fmt.Sprintf(`(() => {
		const r = %s;
		for (const [id, v] of Object.entries({clean: r.clean, corrupted: r.corrupted, clean_target: r.clean_target, corrupted_target: r.corrupted_target})) {
			const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event("input"));
		}
	})()`, js)); err != nil {
		return nil, err
	}
	var best struct {
		SweepSeconds, FirstRowSeconds float64
		Cells                         int
	}
	for i := range opts.Runs {
		if _, err := eval[any](p, `patchlab.run({sites: ["resid_post"], fresh: true})`); err != nil {
			return nil, err
		}
		if err := p.wait(`patchlab.status().running`, time.Minute); err != nil {
			st, _ := eval[string](p, `patchlab.status().runStatus`)
			return nil, fmt.Errorf("the sweep did not start: %s", st)
		}
		if err := p.wait(`!patchlab.status().running`, 30*time.Minute); err != nil {
			return nil, fmt.Errorf("the sweep: %w", err)
		}
		if st, _ := eval[string](p, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Swept") {
			return nil, fmt.Errorf("the sweep ended with %q", st)
		}
		tm, err := eval[struct {
			SweepSeconds, FirstRowSeconds float64
			Cells                         int
		}](p, `patchlab.timings()`)
		if err != nil {
			return nil, err
		}
		logf("run %d: %d cells in %.2fs (first row after %.2fs)", i+1, tm.Cells, tm.SweepSeconds, tm.FirstRowSeconds)
		if tr, err := eval[[][3]any](p, `patchlab.timings().trace`); err == nil {
			logf("run %d trace: %v", i+1, tr)
		}
		if i == 0 || tm.SweepSeconds < best.SweepSeconds {
			best = tm
		}
	}
	looks, err := eval[struct {
		SIMD                                             bool
		ViewsMs, ViewsEngMs, LensTop1Ms, ATPMs, ATPEngMs float64
	}](p, lookScript)
	if err != nil {
		return nil, fmt.Errorf("the views: %w", err)
	}
	logf("views (attention, DLA, lens metric) drawn %.0f ms after opening (their data came after %.0f ms); every lens top-1 token after %.1f s; attribution-patching estimates %.0f ms (%.0f ms in the engine)",
		looks.ViewsMs, looks.ViewsEngMs, looks.LensTop1Ms/1000, looks.ATPMs, looks.ATPEngMs)
	mem, err := eval[[]struct{ Wasm float64 }](p, `patchlab.memory()`)
	if err != nil {
		return nil, err
	}
	heap := 0.0
	for _, m := range mem {
		heap = max(heap, m.Wasm)
	}
	return map[string]any{
		"engine":               "wasm-" + opts.Browser,
		"model":                "small-random",
		"weights":              fmt.Sprintf("q%d", opts.Bits),
		"tokens":               opts.Tokens,
		"workers":              status.Workers.Ready,
		"runs":                 opts.Runs,
		"cells":                best.Cells,
		"sweep_seconds":        round(best.SweepSeconds),
		"first_row_seconds":    round(best.FirstRowSeconds),
		"load_seconds":         round(load),
		"reload_seconds":       round(reload),
		"reload_warm_seconds":  round(rewarm),
		"load_phases":          status.Workers.Phases.summary(),
		"reload_phases":        restatus.Workers.Phases.summary(),
		"wasm_bytes":           rep.WasmBytes,
		"wasm_gzip_bytes":      rep.WasmGzipBytes,
		"wasm_heap_mb":         round(heap),
		"simd":                 looks.SIMD,
		"simd_wasm_bytes":      rep.SIMDWasmBytes,
		"simd_wasm_gzip_bytes": rep.SIMDWasmGzipBytes,
		// The views beside the heatmap, on the clean run of the texts swept.
		"views_seconds":     round(looks.ViewsMs / 1000),
		"lens_top1_seconds": round(looks.LensTop1Ms / 1000),
		"atp_seconds":       round(looks.ATPMs / 1000),
	}, nil
}

// lookScript opens the views beside the heatmap on the runs just swept, as
// a user would, and times them: attention, DLA and the lens metric drawn;
// every top-1 token of the lens; the attribution-patching estimates. It
// also says which engine build the page chose.
const lookScript = `(async () => {
	const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
	const until = async (f) => { while (!f()) await new Promise((r) => setTimeout(r, 5)); };
	const build = await import("./wasmbuild.js").catch(() => null);
	const simd = build ? build.wasmURL() === "patchlab-simd.wasm" : null;
	const t0 = performance.now();
	patchlab.look("attention", "clean");
	await until(() => patchlab.inspected("clean"));
	for (const v of ["dla", "lens"]) patchlab.look(v, "clean");
	await frame();
	const viewsMs = performance.now() - t0;
	const viewsEngMs = patchlab.viewTimings().clean.viewsMs;
	await until(() => { const v = patchlab.inspected("clean"); return v.top1 && v.top1.every((r) => r); });
	const lensTop1Ms = performance.now() - t0;
	patchlab.look("atp");
	await until(() => patchlab.atp());
	const a = patchlab.atp();
	return { simd, viewsMs, viewsEngMs, lensTop1Ms, atpMs: a.estimateMs, atpEngMs: 1000 * a.engineSeconds };
})()`

// pageStatus is what the bench reads of patchlab.status().
type pageStatus struct {
	Workers struct {
		Ready  int
		Phases phaseList
	}
	Marks map[string]float64 // ms after the page opened: its HTML, its scripts, manifest read, load asked
}

// phaseList is where each worker's load went, in ms (worker.js's phases):
// compile and instantiate the engine, read the cache, download, hash,
// copy into Go, decode, warm up; and when its script ran, the engine was
// booted, the load was asked for, it was ready (moments: ms after the
// page opened, once onPageClock has moved them there).
type phaseList []map[string]float64

var moments = []string{"script", "booted", "loadAsked", "ready"}

// onPageClock moves each worker's moments from its own clock (ms after the
// worker started) to the page's, given the page's time origin (ms since
// the epoch, as each worker's timeOrigin).
func (p phaseList) onPageClock(origin float64) {
	for _, w := range p {
		o, ok := w["timeOrigin"]
		delete(w, "timeOrigin")
		if !ok || origin == 0 {
			continue
		}
		for _, k := range moments {
			if v, ok := w[k]; ok {
				w[k] = v + o - origin
			}
		}
	}
}

// summary is, per phase, the largest of the workers' figures, in seconds.
func (p phaseList) summary() map[string]float64 {
	out := map[string]float64{}
	for _, w := range p {
		for k, v := range w {
			if !strings.HasSuffix(k, "Bytes") {
				out[k] = max(out[k], round(v/1000))
			}
		}
	}
	return out
}

func (p phaseList) String() string {
	var b strings.Builder
	for i, w := range p {
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "\n  worker %d:", i+1)
		for _, k := range keys {
			if strings.HasSuffix(k, "Bytes") {
				fmt.Fprintf(&b, " %s %.1f MB", k, w[k]/1e6)
			} else {
				fmt.Fprintf(&b, " %s %.0f ms", k, w[k])
			}
		}
	}
	return b.String()
}

func round(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// texts is the README's Michelle Jones/Smith example when n is 11, else the same
// pattern at length n: "Michelle Jones and and … Michelle".
func texts(n int) (analysis.Request, error) {
	req := analysis.Request{
		Clean: "Michelle Jones was a top-notch student. Michelle", Corrupted: "Michelle Smith was a top-notch student. Michelle",
		CleanTarget: " Jones", CorruptedTarget: " Smith",
	}
	if n < 3 || n > gpt2.Small.Context {
		return req, fmt.Errorf("%d tokens: want 3…%d", n, gpt2.Small.Context)
	}
	if n != 11 {
		pad := strings.Repeat(" and", n-3)
		req.Clean, req.Corrupted = "Michelle Jones"+pad+" Michelle", "Michelle Smith"+pad+" Michelle"
	}
	if _, err := analysis.Check(bpe.New(), gpt2.Small, req); err != nil {
		return req, fmt.Errorf("the texts of %d tokens: %w", n, err)
	}
	if got := len(bpe.New().Encode(req.Clean)); got != n {
		return req, fmt.Errorf("the texts have %d tokens, want %d", got, n)
	}
	return req, nil
}

// page is the page in one browser.
type page struct {
	ctx context.Context
	b   drive.Browser
}

func eval[T any](p *page, expr string) (T, error) {
	var v T
	err := p.b.Eval(p.ctx, expr, &v)
	return v, err
}

// wait polls a JavaScript predicate until it holds, for at most timeout.
func (p *page) wait(expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := p.b.Eval(p.ctx, `!!(`+expr+`)`, &ok)
		if err == nil && ok {
			return nil
		}
		if p.ctx.Err() != nil {
			return p.ctx.Err()
		}
		if time.Now().After(deadline) {
			var st string
			p.b.Eval(p.ctx, `JSON.stringify(window.patchlab && patchlab.status())`, &st)
			if err == nil {
				err = errors.New("timed out")
			}
			return fmt.Errorf("%w (page status %s)", err, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
