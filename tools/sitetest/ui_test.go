package sitetest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
)

// TestLengthMismatch types the golden length-mismatch case: the page says
// so, shows both tokenizations aligned with the first difference marked,
// and refuses to run. A target of two tokens is refused too.
func TestLengthMismatch(t *testing.T) {
	e := setup(t)
	g := e.golden.find("length-mismatch")
	tb := newTab(t, e)
	tb.open("?workers=1", 1)
	tb.setInput("corrupted", g.Corrupted)
	tb.wait("the message", `!document.getElementById("check").hidden`, 60*time.Second)
	msg := eval[string](tb, `document.getElementById("check-msg").textContent`)
	for _, want := range []string{"different token counts", "clean 11", "corrupted 13"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	first := eval[[]string](tb, `[...document.querySelectorAll("#check-align td.first")].map(td => td.textContent)`)
	if len(first) != 2 || first[0] != "␣Jones" || first[1] != "␣Richardson" {
		t.Errorf("the marked position holds %q, want ␣Jones and ␣Richardson", first)
	}
	if got := eval[string](tb, `document.getElementById("corrupted-count").textContent`); got != "13 tokens" {
		t.Errorf("corrupted count %q", got)
	}
	if got := eval[string](tb, `document.getElementById("corrupted").getAttribute("aria-invalid")`); got != "true" {
		t.Errorf("the corrupted field is not marked invalid")
	}
	tb.do(chromedp.Click(chromedp.ID("run")))
	tb.wait("the refusal", `patchlab.status().runStatus.startsWith("Nothing was run")`, 60*time.Second)
	if eval[bool](tb, `patchlab.baseline() !== null`) {
		t.Errorf("a run started")
	}

	tb.setInput("corrupted", g.Clean)
	tb.wait("the identical-texts message", `document.getElementById("check-msg").textContent.includes("same tokens as the clean text")`, 60*time.Second)
	tb.setInput("corrupted", e.golden.find("michelle").Corrupted) // the same count: the target is what is wrong
	tb.setInput("clean_target", "Jones Smith")
	tb.wait("the target message", `document.getElementById("check-msg").textContent.includes("clean target")`, 60*time.Second)
	if n := eval[int](tb, `document.querySelectorAll("#clean_target-tokens .chip.bad").length`); n != 2 {
		t.Errorf("the two-token target shows %d refused chips, want 2", n)
	}
}

// TestCancel slows the sweep down (?row_delay_ms), cancels it after the
// first row, checks that the page and the workers return to idle, then
// runs again to completion.
func TestCancel(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=2&row_delay_ms=400", 2)
	tb.do(chromedp.Click(chromedp.ID("run")))
	tb.wait("a first row", `["embed", "resid_post"].some(s => { const w = patchlab.sweep(s); return w && w.done.some(d => d); })`, 60*time.Second)
	start := time.Now()
	tb.do(chromedp.Click(chromedp.ID("cancel")))
	tb.wait("idle", `!patchlab.status().running`, 60*time.Second)
	tb.wait("the workers to stop", `patchlab.status().workers.busy === 0`, 60*time.Second)
	t.Logf("idle %v after Cancel", time.Since(start).Round(time.Millisecond))
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Cancelled") {
		t.Errorf("status after Cancel: %q", st)
	}
	done := eval[int](tb, `patchlab.sweep("resid_post").done.reduce((a, d) => a + d, 0) + patchlab.sweep("embed").done[0]`)
	if done >= 5 {
		t.Errorf("%d of 5 rows done: Cancel did not stop the sweep", done)
	}
	if eval[bool](tb, `document.getElementById("cancel").disabled === false || document.getElementById("run").disabled`) {
		t.Errorf("the buttons are not back to idle")
	}
	eval[chromedp.Void](tb, `patchlab.setRowDelay(0)`)
	tb.runAndWait()
	resid := readSweep(tb, "resid_post").diffs(t)
	nResid, _, _ := nativeWebFormat(t, e, e.golden.find("michelle"))
	if w := worst(t, "resid_post", resid, nResid); w > 1e-4 {
		t.Errorf("after Cancel and Run, resid_post differs from the native engine by %g", w)
	}
}

// TestMarkupIsText puts markup in the texts, from the URL and from the
// keyboard: it must show as text, create no element and open no dialog.
func TestMarkupIsText(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	evil := "<img src=x onerror=alert(1)>"
	tb.open("?workers=1#clean="+urlEscape(evil)+"&corrupted="+urlEscape("<script>alert(2)</script>")+"&clean_target="+urlEscape("<b>")+"&site=%3Cx%3E&metric=alert(3)", 1)
	scripts := eval[int](tb, `document.scripts.length`)
	tb.wait("the tokens", `document.querySelectorAll("#clean-tokens .chip").length > 0`, 60*time.Second)
	for id, text := range map[string]string{"clean": evil, "corrupted": "<img src=y onerror=alert(1)>", "clean_target": " Jones"} {
		tb.setInput(id, "")
		tb.do(chromedp.SendKeys(chromedp.ID(id), text))
	}
	tb.wait("the new tokens", `patchlab.tokens() && patchlab.tokens().clean.length === patchlab.tokens().corrupted.length && !patchlab.tokens().error`, 60*time.Second)
	tb.runAndWait()
	chips := eval[string](tb, `[...document.querySelectorAll("#clean-tokens .chip .t")].map(e => e.textContent).join("")`)
	if chips != "<img␣src=x␣onerror=alert(1)>" {
		t.Errorf("the chips do not show the markup as text: %q", chips)
	}
	if n := eval[int](tb, `document.querySelectorAll("img, [onerror], b, x").length`); n != 0 {
		t.Errorf("%d elements were created from the texts", n)
	}
	if n := eval[int](tb, `document.scripts.length`); n != scripts {
		t.Errorf("%d scripts, %d at the start", n, scripts)
	}
	if site := eval[string](tb, `document.getElementById("site").value + " " + document.getElementById("metric").value`); site != "resid_post logit_diff" {
		t.Errorf("the URL's invalid site and metric were not ignored: %q", site)
	}
	if !strings.Contains(eval[string](tb, `patchlab.heatmap().colLabels.join(" ")`), "<") {
		t.Errorf("the heatmap labels lost the markup characters")
	}
}

// TestSharedLink opens a link carrying texts, targets, site and metric: the
// page fills them in and runs that analysis by itself.
func TestSharedLink(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	// A high-DPI screen: the canvas must have two pixels per CSS pixel.
	tb.do(chromedp.EmulateViewport(1200, 900, chromedp.EmulateScale(2)))
	tb.do(chromedp.Navigate(tb.origin + "/?workers=1#clean=" + urlEscape("When Mary and John went to the store, John gave a drink to") +
		"&corrupted=" + urlEscape("When Mary and John went to the store, Mary gave a drink to") +
		"&clean_target=" + urlEscape(" Mary") + "&corrupted_target=" + urlEscape(" John") + "&site=attn_out&metric=normalized"))
	tb.wait("the analysis", `patchlab.heatmap() && patchlab.heatmap().computed === patchlab.heatmap().rows && !patchlab.status().running`, 60*time.Second)
	hm := eval[struct {
		Site, Metric string
		Rows, Cols   int
		Values       []*float64
	}](tb, `patchlab.heatmap()`)
	if hm.Site != "attn_out" || hm.Metric != "normalized" || hm.Rows != 4 || hm.Cols != 14 {
		t.Errorf("the link gave %s/%s %d×%d, want attn_out/normalized 4×14", hm.Site, hm.Metric, hm.Rows, hm.Cols)
	}
	dims := eval[[]float64](tb, `(() => { const c = document.getElementById("heatmap"); return [c.width, parseFloat(c.style.width), devicePixelRatio]; })()`)
	if dims[2] != 2 || math.Abs(dims[0]-2*dims[1]) > 1 {
		t.Errorf("canvas %g px for %g CSS px at ratio %g, want twice", dims[0], dims[1], dims[2])
	}
	// Normalized: 0 at the corrupted baseline, which every column before
	// the first difference (position 9) equals.
	for r := 0; r < hm.Rows; r++ {
		for c := 0; c < 9; c++ {
			if v := hm.Values[r*hm.Cols+c]; v == nil || math.Abs(*v) > 1e-6 {
				t.Fatalf("cell %d,%d = %v, want 0", r, c, v)
			}
		}
	}
	// Switching the metric reuses the cells; switching the site runs it.
	tb.do(chromedp.SetValue(chromedp.ID("metric"), "prob_diff"))
	eval[chromedp.Void](tb, `document.getElementById("metric").dispatchEvent(new Event("change"))`)
	if !eval[bool](tb, `!document.getElementById("rerun-probs").hidden`) {
		t.Errorf("prob_diff on a sweep without probabilities does not offer to rerun")
	}
	tb.do(chromedp.Click(chromedp.ID("rerun-probs")))
	tb.wait("the probabilities", `patchlab.heatmap().computed === 4 && !patchlab.status().running && patchlab.heatmap().values.every(v => v !== null && Math.abs(v) <= 1)`, 30*time.Second)
	if !strings.Contains(eval[string](tb, `location.hash`), "metric=prob_diff") {
		t.Errorf("the URL does not follow the metric")
	}
}

// TestCorruptCache damages a cached shard: the next load notices (sha256),
// fetches it again and repairs the cache.
func TestCorruptCache(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=1", 1)
	sha := eval[string](tb, `(async () => {
		const m = await (await fetch("weights/manifest.json")).json();
		const s = m.shards[0];
		const c = await caches.open("patchlab-weights-v1");
		await c.put(new URL("__patchlab__/shard/" + s.sha256, location.href).href, new Response(new Uint8Array(s.size)));
		return s.sha256;
	})()`)
	tb.open("?workers=1", 1)
	notes := eval[[]string](tb, `patchlab.status().notes`)
	if len(notes) == 0 || !strings.Contains(notes[0], "corrupt") {
		t.Errorf("no note of the corrupt cache entry: %q", notes)
	}
	got := eval[string](tb, fmt.Sprintf(`(async () => {
		const c = await caches.open("patchlab-weights-v1");
		const r = await c.match(new URL("__patchlab__/shard/%s", location.href).href);
		return PatchlabStore.sha256(await r.arrayBuffer());
	})()`, sha))
	if got != sha {
		t.Errorf("the cache entry was not repaired: sha256 %s, want %s", got, sha)
	}
}

// TestOffline opens the page once from a server of its own, opens two of
// its other files (the service worker must not take them for the page),
// stops the server, and opens the page again: the service
// worker and the weight cache must be enough to load the model and run.
func TestOffline(t *testing.T) {
	e := setup(t)
	srv := serve(e.dist)
	defer srv.Close()
	tb := newTab(t, e)
	tb.origin = srv.URL
	tb.open("?workers=1", 1)
	tb.wait("the service worker", `navigator.serviceWorker && navigator.serviceWorker.controller !== null`, 60*time.Second)
	// Other files of the site opened are no visit of the page: the offline
	// copy of the page stays the page.
	// (The server forbids framing, so they are opened in the tab itself.)
	for _, src := range []string{"weights/manifest.json", "app.js"} {
		tb.do(chromedp.Navigate(tb.origin + "/" + src))
	}
	tb.open("?workers=1", 1)
	kept := eval[string](tb, `(async () => {
		await new Promise((resolve) => setTimeout(resolve, 100)); // what the service worker keeps, it keeps meanwhile
		const name = (await caches.keys()).find((k) => k.startsWith("patchlab-shell-"));
		const hit = name && (await (await caches.open(name)).match("index.html"));
		return hit ? (await hit.text()).slice(0, 15) : "nothing";
	})()`)
	if kept != "<!doctype html>" {
		t.Errorf("the offline copy of the page begins %q", kept)
	}
	srv.Close()
	tb.open("?workers=1", 1)
	tb.runAndWait()
	if n := eval[int](tb, `patchlab.sweep("resid_post").done.reduce((a, d) => a + d, 0)`); n != 4 {
		t.Errorf("offline: %d rows done", n)
	}
}

// TestPresets checks every example of site/presets.json with the tokenizer:
// equal token counts, single-token targets, texts that differ.
func TestPresets(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "site", "presets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var presets []struct {
		Name string `json:"name"`
		analysis.Request
	}
	if err := json.Unmarshal(data, &presets); err != nil {
		t.Fatal(err)
	}
	if len(presets) < 5 {
		t.Fatalf("%d presets", len(presets))
	}
	tok := bpe.New()
	for _, p := range presets {
		a, err := analysis.Check(tok, gpt2.Small, p.Request)
		if err != nil {
			t.Errorf("%s: %v", p.Name, err)
			continue
		}
		differ := 0
		for i := range a.CleanTokens {
			if a.CleanTokens[i].ID != a.CorruptedTokens[i].ID {
				differ++
			}
		}
		if differ == 0 || differ > 2 {
			t.Errorf("%s: the texts differ in %d tokens", p.Name, differ)
		}
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "+", "%2B", " ", "%20", "<", "%3C", ">", "%3E", "=", "%3D")
	return r.Replace(s)
}

// TestHeatTableAndEngineFailure watches the screen-reader table of the
// heatmap during a slowed sweep: it is not rebuilt while rows arrive, only
// when the sweep ends (then it holds every value) and when the metric
// changes. Then the engine's start fails (an error of kind "internal"): the run
// fails with that message (no baseline made of it), and the next run works.
func TestHeatTableAndEngineFailure(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=1&row_delay_ms=120", 1)
	eval[chromedp.Void](tb, `(() => {
		window.rebuilds = [];
		new MutationObserver(() => {
			const h = patchlab.heatmap();
			rebuilds.push({ running: patchlab.status().running, computed: h ? h.computed : 0 });
		}).observe(document.getElementById("heat-table"), { childList: true, subtree: true });
	})()`)
	tb.runAndWait()
	type rebuild struct {
		Running  bool
		Computed int
	}
	rebuilds := eval[[]rebuild](tb, `rebuilds`)
	for _, r := range rebuilds {
		if r.Running && r.Computed > 0 {
			t.Errorf("the table was rebuilt during the sweep: %+v", rebuilds)
			break
		}
	}
	table := func() []string {
		return eval[[]string](tb, `[...document.querySelectorAll("#heat-table tbody td")].map(td => td.textContent)`)
	}
	cells := table()
	if len(cells) != 5*11 || strings.Contains(strings.Join(cells, "|"), "not computed") {
		t.Errorf("the table after the sweep: %d cells %q", len(cells), cells)
	}
	// The table's values are the heatmap's, to four significant digits.
	want := eval[[]string](tb, `(async () => { const { precise } = await import("./heatmap-data.js"); return patchlab.heatmap().values.map(precise); })()`)
	if strings.Join(cells, "|") != strings.Join(want, "|") {
		t.Errorf("the table says %q, the heatmap %q", cells, want)
	}
	n := len(eval[[]rebuild](tb, `rebuilds`))
	// Typing (the heatmap is of the texts last run) rebuilds nothing.
	g := e.golden.find("michelle")
	tb.setInput("clean", g.Clean+" Jones")
	tb.wait("the tokens", `patchlab.tokens().clean.length === 12`, 60*time.Second)
	tb.setInput("clean", g.Clean)
	tb.wait("the tokens", `patchlab.tokens().clean.length === 11`, 60*time.Second)
	if m := len(eval[[]rebuild](tb, `rebuilds`)); m != n {
		t.Errorf("typing rebuilt the table %d times", m-n)
	}
	tb.do(chromedp.SetValue(chromedp.ID("metric"), "clean_target_delta"))
	eval[chromedp.Void](tb, `document.getElementById("metric").dispatchEvent(new Event("change"))`)
	if c := eval[string](tb, `document.getElementById("heat-table-caption").textContent`); !strings.Contains(c, "Clean-target logit change") {
		t.Errorf("the table's caption after a metric change: %q", c)
	}
	if got := table(); strings.Join(got, "|") == strings.Join(cells, "|") {
		t.Errorf("the table kept the other metric's values")
	}

	eval[chromedp.Void](tb, `patchlab.setRowDelay(0)`)
	eval[chromedp.Void](tb, `patchlab.crashWorker(0, "start-fatal")`)
	eval[chromedp.Void](tb, `patchlab.run({ fresh: true })`)
	tb.wait("the failure", `!patchlab.status().running && patchlab.status().runStatus.startsWith("The run failed")`, 60*time.Second)
	if st := eval[string](tb, `patchlab.status().runStatus`); st != "The run failed: a failure asked for by a test" {
		t.Errorf("the run ended with %q", st)
	}
	if eval[bool](tb, `"kind" in (patchlab.baseline() || {})`) {
		t.Errorf("the failure became the baseline")
	}
	tb.runAndWait()
	if n := eval[int](tb, `patchlab.heatmap().computed`); n != 5 {
		t.Errorf("after the failure: %d rows computed", n)
	}
}
