package sitetest

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/patchlab/patchlab/tools/sitetest/drive"
)

// TestEveryBrowser runs the page's main flows in Chromium, Firefox and
// WebKit (Safari's engine): load the model, run the Michelle example and
// read the heatmap back against the native engine and the golden values,
// follow the share link, recover from a crashed worker, and reload with the
// server gone. Every engine must give the same numbers to the last bit: the
// same WebAssembly runs in each. An engine not installed here is skipped,
// saying what to install (CI installs all three). Firefox and WebKit add a
// minute, so they run with PATCHLAB_ALL_BROWSERS=1 (as CI runs them);
// Chromium always.
func TestEveryBrowser(t *testing.T) {
	e := setup(t)
	g := e.golden.find("michelle")
	nResid, _, _ := nativeWebFormat(t, e, g)
	var first [][]float64 // the first engine's resid_post, which the others must equal
	for _, engine := range drive.Engines {
		t.Run(engine, func(t *testing.T) {
			if engine != "chromium" && os.Getenv("PATCHLAB_ALL_BROWSERS") == "" {
				t.Skip("set PATCHLAB_ALL_BROWSERS=1 to run the main flows in " + engine + " too")
			}
			if why := drive.Missing(engine); why != "" {
				t.Skip(why)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // a hang, not a slow machine
			defer cancel()
			b, err := drive.Start(ctx, engine)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			srv := serve(e.dist) // its own server, stopped for the offline reload
			defer srv.Close()
			p := &driven{t: t, ctx: ctx, b: b}

			// With no count asked for, the pool settles on one it can say why of
			// (WebKit's 4 cores are a guess: there it measures).
			p.open(srv.URL + "/?sw=0")
			p.waitFor("the pool's size", `patchlab.status().workers.why && patchlab.status().workers.ready === patchlab.status().workers.total`)
			var pool struct {
				Total int
				Why   string
			}
			p.eval(`patchlab.status().workers`, &pool)
			t.Logf("%s on %d cores: %s", engine, runtime.NumCPU(), pool.Why)
			if pool.Total < 1 || pool.Total > min(4, runtime.NumCPU()+1) || !strings.HasPrefix(pool.Why, fmt.Sprintf("%d worker", pool.Total)) {
				t.Errorf("%d workers on %d cores: %q", pool.Total, runtime.NumCPU(), pool.Why)
			}

			p.open(srv.URL + "/?workers=2")
			p.run()
			resid := p.residDiffs()
			if w := worst(t, "resid_post", resid, nResid); w > 1e-4 {
				t.Errorf("the page and the native engine differ by %g on the same weights", w)
			}
			if first == nil {
				first = resid
			} else if w := worst(t, "resid_post", resid, first); w != 0 {
				t.Errorf("%s and %s differ by %g on the same WebAssembly", engine, drive.Engines[0], w)
			}

			// The share link carries other texts into a new visit.
			swapped := map[string]string{"clean": g.Corrupted, "corrupted": g.Clean, "clean_target": g.CorruptedTarget, "corrupted_target": g.CleanTarget}
			for id, v := range swapped {
				p.eval(fmt.Sprintf(`(() => { const el = document.getElementById(%q); el.value = %q; el.dispatchEvent(new InputEvent("input", { bubbles: true })); return true; })()`, id, v), nil)
			}
			p.waitFor("the link to follow the texts", fmt.Sprintf(`new URLSearchParams(location.hash.slice(1)).get("clean") === %q`, g.Corrupted))
			var link string
			p.eval(`location.href`, &link)
			p.open("about:blank")
			p.open(link)
			for id, v := range swapped {
				var got string
				p.eval(fmt.Sprintf(`document.getElementById(%q).value`, id), &got)
				if got != v {
					t.Errorf("the link's %s is %q, want %q", id, got, v)
				}
			}
			p.run()
			linked := p.residDiffs()

			// A crashed worker is replaced, and the next run completes.
			p.eval(`(patchlab.crashWorker(0, "throw"), true)`, nil)
			p.waitFor("the pool to recover", `patchlab.status().workers.ready >= 2 && !patchlab.status().running`)
			p.eval(`(() => { const el = document.getElementById("clean_target"); el.value = " was"; el.dispatchEvent(new InputEvent("input", { bubbles: true })); return true; })()`, nil)
			p.run()

			// Offline: the service worker and the cached weights are enough.
			p.waitFor("the service worker", `navigator.serviceWorker && navigator.serviceWorker.controller !== null`)
			srv.Close()
			p.open("about:blank")
			p.open(link)
			p.run()
			if w := worst(t, "resid_post (offline)", p.residDiffs(), linked); w != 0 {
				t.Errorf("offline, the heatmap differs by %g", w)
			}
		})
	}
}

// driven is the page in one browser of drive.
type driven struct {
	t   *testing.T
	ctx context.Context
	b   drive.Browser
}

func (p *driven) eval(expr string, out any) {
	p.t.Helper()
	if err := p.b.Eval(p.ctx, expr, out); err != nil {
		p.t.Fatalf("%s: %s: %v", p.b.Name(), expr, err)
	}
}

// waitFor polls a predicate until it holds (or the test's limit passes).
func (p *driven) waitFor(what, expr string) {
	p.t.Helper()
	for {
		var ok bool
		err := p.b.Eval(p.ctx, `!!(`+expr+`)`, &ok)
		if err == nil && ok {
			return
		}
		if p.ctx.Err() != nil {
			var st string
			p.b.Eval(context.Background(), `JSON.stringify(window.patchlab && patchlab.status())`, &st)
			p.t.Fatalf("%s: waiting for %s: %v (status %s)", p.b.Name(), what, err, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *driven) open(url string) {
	p.t.Helper()
	if err := p.b.Open(p.ctx, url); err != nil {
		p.t.Fatalf("%s: opening %s: %v", p.b.Name(), url, err)
	}
	if strings.HasPrefix(url, "http") {
		p.waitFor("the model", `window.patchlab && patchlab.status().ready && patchlab.status().workers.ready >= 1`)
	}
}

// run clicks Run and waits for the sweep to end well.
func (p *driven) run() {
	p.t.Helper()
	p.eval(`(document.getElementById("run").click(), true)`, nil)
	p.waitFor("the run to start", `patchlab.status().running || /Swept|Done|failed/.test(patchlab.status().runStatus)`)
	p.waitFor("the run to end", `!patchlab.status().running`)
	var st string
	p.eval(`patchlab.status().runStatus`, &st)
	if !strings.HasPrefix(st, "Swept") && !strings.HasPrefix(st, "Done") {
		p.t.Fatalf("%s: the run ended with %q", p.b.Name(), st)
	}
}

// residDiffs is resid_post's logit difference per cell, as the page holds it.
func (p *driven) residDiffs() [][]float64 {
	p.t.Helper()
	var sw pageSweep
	p.eval(`patchlab.sweep("resid_post")`, &sw)
	out := sw.diffs(p.t)
	if len(out) == 0 || math.IsNaN(out[0][0]) {
		p.t.Fatalf("%s: no resid_post sweep", p.b.Name())
	}
	return out
}
