package sitetest

// Faults: hostile texts, broken weights, a Run pressed twice, workers that
// die. The page must say what went wrong, keep working, and lose nothing.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/tools/serve/web"
)

// heatmapMatchesNative checks the resid_post sweep on the page against the
// same web-format analysis run natively (the Michelle case).
func heatmapMatchesNative(t *testing.T, e *env, tb *tab, when string) {
	t.Helper()
	nResid, _, _ := nativeWebFormat(t, e, e.golden.find("michelle"))
	if w := worst(t, "resid_post", readSweep(tb, "resid_post").diffs(t), nResid); w > 1e-4 {
		t.Errorf("%s: resid_post differs from the native engine by %g", when, w)
	}
}

// TestWorkerCrash makes a worker fail in the middle of a sweep in each way
// a worker can: the Go engine panics, it runs out of memory (allocating
// until the WebAssembly memory cannot grow), the worker closes without a
// word, an uncaught exception. Each time the page says so, a new worker
// takes over (or, out of memory, the others go on), the sweep completes
// with the right values, and the next Run works.
func TestWorkerCrash(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=2&row_delay_ms=120", 2)
	for _, c := range []struct {
		kind    string
		worker  int
		says    string
		workers int // ready after
	}{
		{"panic", 1, "Worker 2 stopped (the engine crashed (panic: patchlab: a crash asked for by a test (panic)))", 2},
		{"close", 0, "Worker 1 stopped (the worker ended)", 2},
		{"throw", 1, "Worker 2 stopped (an uncaught error (Uncaught Error: a crash asked for by a test))", 2},
		{"oom", 0, "Worker 1 stopped (the engine ran out of memory); going on with 1 worker", 1},
	} {
		start := time.Now()
		notes := len(eval[[]string](tb, `patchlab.status().notes`))
		eval[chromedp.Void](tb, `patchlab.run({fresh: true})`)
		tb.wait("a first row", `["embed", "resid_post"].some(s => { const w = patchlab.sweep(s); return w && w.done.some(d => d); })`, 60*time.Second)
		eval[chromedp.Void](tb, fmt.Sprintf(`patchlab.crashWorker(%d, %q)`, c.worker, c.kind))
		tb.wait("the note", fmt.Sprintf(`patchlab.status().notes.length > %d`, notes), 30*time.Second)
		tb.wait("the run's end", `!patchlab.status().running`, 60*time.Second)
		note := eval[[]string](tb, `patchlab.status().notes`)[notes]
		if !strings.HasPrefix(note, c.says) {
			t.Errorf("%s: the note is %q, want %q…", c.kind, note, c.says)
		}
		st := eval[string](tb, `patchlab.status().runStatus`)
		if !strings.HasPrefix(st, "Swept") || !strings.Contains(st, c.says) {
			t.Errorf("%s: the run ended with %q", c.kind, st)
		}
		heatmapMatchesNative(t, e, tb, c.kind)
		tb.wait("the workers", fmt.Sprintf(`patchlab.status().workers.ready === %d && patchlab.status().workers.total === %d`, c.workers, c.workers), 60*time.Second)
		t.Logf("%s in worker %d: recovered in %v; %q", c.kind, c.worker+1, time.Since(start).Round(time.Millisecond), st)
	}
	// The last worker runs out of memory while nothing runs: with none
	// left, a new one loads the model, and Run works.
	eval[chromedp.Void](tb, `patchlab.crashWorker(0, "oom")`)
	tb.wait("a new worker", `patchlab.status().notes.some(n => /^Worker \d stopped \(the engine ran out of memory\); a new worker is loading the model\.$/.test(n)) && patchlab.status().workers.ready === 1`, 60*time.Second)
	eval[chromedp.Void](tb, `patchlab.setRowDelay(0)`)
	tb.setInput("corrupted", "Michelle Smith was a top-notch student. Michelle")
	tb.runAndWait()
	heatmapMatchesNative(t, e, tb, "after the last worker was replaced")
	if n := eval[int](tb, `patchlab.status().info.config.n_layer`); n != 4 {
		t.Errorf("the model: %d layers", n)
	}
}

// TestTextFaults types what a user may: nothing, only whitespace, a pasted
// megabyte (text and target), control characters. The page refuses to run
// the first ones with a message that says why, stays responsive (measured),
// and runs the last.
func TestTextFaults(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=1", 1)
	g := e.golden.find("michelle")

	for _, c := range []struct{ field, text, says string }{
		{"clean", "", "the clean text is empty: type a sentence"},
		{"corrupted", " \t\n\u00a0 \n", "the corrupted text is only whitespace (spaces, tabs, line breaks): type a sentence"},
		{"clean_target", "", "the clean target is empty"},
	} {
		tb.setInput(c.field, c.text)
		tb.wait("the message", fmt.Sprintf(`document.getElementById("check-msg").textContent.startsWith(%q) && !document.getElementById("check").hidden`, c.says), 60*time.Second)
		tb.do(chromedp.Click(chromedp.ID("run")))
		tb.wait("the refusal", fmt.Sprintf(`patchlab.status().runStatus === "Nothing was run: " + document.getElementById("check-msg").textContent`), 60*time.Second)
		if f := eval[string](tb, `document.activeElement.id + " " + document.getElementById(document.activeElement.id).getAttribute("aria-invalid")`); f != c.field+" true" {
			t.Errorf("%s: the focus and the invalid mark are on %q", c.field, f)
		}
		t.Logf("%s %q: %q", c.field, c.text, eval[string](tb, `patchlab.status().runStatus`))
		tb.setInput(c.field, map[string]string{"clean": g.Clean, "corrupted": g.Corrupted, "clean_target": g.CleanTarget}[c.field])
	}
	if eval[bool](tb, `patchlab.baseline() !== null || patchlab.timings().runs > 0`) {
		t.Fatal("a run started")
	}

	// A megabyte pasted into each text field, then into a target: the page
	// must answer at once and keep answering. Timed in the page: the input
	// event's handler, the message's arrival, the longest main-thread task
	// and the longest gap of a 16 ms timer meanwhile.
	type timing struct {
		InputMs, MessageMs, LongestTaskMs, MaxGapMs float64
		Message, Count                              string
		Chips                                       int
		Err                                         string
	}
	// The browser's own cost of holding a megabyte in a text field (layout,
	// spell checking), measured on a field the page does not watch: the
	// page may add to it only a little.
	own := eval[float64](tb, `(async () => {
		const ta = document.createElement("textarea");
		document.body.append(ta);
		let last = performance.now(), maxGap = 0;
		const tick = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 16);
		ta.value = "Michelle Jones was a top-notch student. ".repeat(26215).slice(0, 1 << 20);
		ta.dispatchEvent(new InputEvent("input", { bubbles: false }));
		await new Promise((r) => setTimeout(r, 600));
		clearInterval(tick);
		ta.remove();
		return maxGap;
	})()`)
	for _, c := range []struct{ field, says, count string }{
		{"clean", "the clean text is 1.0 MB (1048576 bytes) long, more than the model's context of 64 tokens can hold: shorten it", "more than 64 tokens"},
		{"corrupted", "the corrupted text is 1.0 MB (1048576 bytes) long, more than the model's context of 64 tokens can hold: shorten it", "more than 64 tokens"},
		{"clean_target", "the clean target is 1.0 MB (1048576 bytes) long, far more than one token", ""},
	} {
		tm := eval[timing](tb, fmt.Sprintf(`(async () => {
			const field = %q, says = %q;
			let last = performance.now(), maxGap = 0;
			const tick = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 16);
			const long = [];
			const po = new PerformanceObserver((l) => { for (const e of l.getEntries()) long.push(e.duration); });
			po.observe({ type: "longtask" });
			const text = "Michelle Jones was a top-notch student. ".repeat(26215).slice(0, 1 << 20);
			const el = document.getElementById(field), msg = document.getElementById("check-msg");
			const t0 = performance.now();
			el.value = text;
			el.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertFromPaste" }));
			const inputMs = performance.now() - t0;
			let err = "";
			while (!msg.textContent.startsWith(says)) {
				if (performance.now() - t0 > 20000) { err = "no message after 20 s: " + msg.textContent; break; }
				await new Promise((r) => setTimeout(r, 5));
			}
			const messageMs = performance.now() - t0;
			await new Promise((r) => setTimeout(r, 400)); // the URL is written after 300 ms
			clearInterval(tick);
			po.disconnect();
			const count = field === "clean_target" ? "" : document.getElementById(field + "-count").textContent;
			return { inputMs, messageMs, longestTaskMs: Math.max(0, ...long), maxGapMs: maxGap, message: msg.textContent, count,
				chips: document.querySelectorAll("#" + field + "-tokens .chip").length, err };
		})()`, c.field, c.says))
		if tm.Err != "" {
			t.Fatalf("%s: %s", c.field, tm.Err)
		}
		t.Logf("1 MB pasted into %s: input handler %.0f ms, message after %.0f ms, longest task %.0f ms, longest timer gap %.0f ms, %d chips, %q",
			c.field, tm.InputMs, tm.MessageMs, tm.LongestTaskMs, tm.MaxGapMs, tm.Chips, tm.Message)
		// The worker tokenizes; the page must keep answering meanwhile. A
		// busy machine slows the page and the browser alike, so the test
		// compares the page's longest pause with the browser's own for the
		// same megabyte: a page that blocked while the worker tokenized
		// would pause many times longer.
		if tm.MaxGapMs > 3*own+300 {
			t.Errorf("%s: the page hung: a %.0f ms pause, the browser's own for a megabyte is %.0f ms", c.field, tm.MaxGapMs, own)
		}
		if tm.Count != c.count {
			t.Errorf("%s: the count says %q, want %q", c.field, tm.Count, c.count)
		}
		if c.count != "" && tm.Chips != 65 {
			t.Errorf("%s: %d chips, want the context's 64 and one for the rest", c.field, tm.Chips)
		}
		if n := eval[int](tb, `location.href.length`); n > 10000 {
			t.Errorf("%s: the URL is %d characters long", c.field, n)
		}
		tb.do(chromedp.Click(chromedp.ID("run")))
		tb.wait("the refusal", fmt.Sprintf(`patchlab.status().runStatus === "Nothing was run: " + %q`, tm.Message), 60*time.Second)
		tb.setInput(c.field, map[string]string{"clean": g.Clean, "corrupted": g.Corrupted, "clean_target": g.CleanTarget}[c.field])
	}
	if eval[bool](tb, `patchlab.baseline() !== null || patchlab.timings().runs > 0`) {
		t.Fatal("a run started")
	}

	// Control characters are bytes like others to GPT-2: they tokenize, show
	// as symbols, and run.
	tb.setInput("clean", "Michelle\x00 Jones\x1b[0m was\u202e a top-notch\x7f student. Michelle")
	tb.setInput("corrupted", "Michelle\x00 Smith\x1b[0m was\u202e a top-notch\x7f student. Michelle")
	tb.wait("the tokens", `patchlab.tokens() && !patchlab.tokens().error && patchlab.tokens().differ.length === 1 && patchlab.tokens().clean[1].id === 188`, 60*time.Second)
	chips := eval[string](tb, `[...document.querySelectorAll("#clean-tokens .chip .t")].map(e => e.textContent).join("|")`)
	for _, want := range []string{"␀", "␛", "␡"} {
		if !strings.Contains(chips, want) {
			t.Errorf("the chips %q do not show %s", chips, want)
		}
	}
	// U+202E is two byte-level tokens, neither a whole character: no chip
	// holds the override itself.
	if strings.Contains(chips, "‮") {
		t.Errorf("a chip holds a right-to-left override: %q", chips)
	}
	tb.runAndWait()
	hm := eval[struct {
		Rows, Computed int
		ColLabels      []string
	}](tb, `patchlab.heatmap()`)
	if hm.Computed != hm.Rows || !strings.Contains(strings.Join(hm.ColLabels, " "), "␀") {
		t.Errorf("the heatmap of control characters: %d of %d rows, labels %q", hm.Computed, hm.Rows, hm.ColLabels)
	}
	t.Logf("control characters: %s; chips %s", eval[string](tb, `patchlab.status().runStatus`), chips)
}

// TestRunTwice presses Run twice in one go, while the texts still have to
// be tokenized (the moment the page waits for the worker) and while they
// do not: one sweep, no "Cancelled", the right heatmap.
func TestRunTwice(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=2", 2)
	eval[chromedp.Void](tb, `(() => {
		window.seen = [];
		new MutationObserver(() => seen.push(document.getElementById("run-status").textContent))
			.observe(document.getElementById("run-status"), { childList: true, characterData: true, subtree: true });
	})()`)
	tb.setInput("corrupted", "Michelle Brown was a top-notch student. Michelle")
	tb.wait("the other tokens", `patchlab.tokens() && patchlab.tokens().corrupted[1].text === " Brown"`, 60*time.Second)
	// Back to the Michelle case and Run, Run at once: the tokens are stale.
	eval[chromedp.Void](tb, `(() => {
		const c = document.getElementById("corrupted");
		c.value = "Michelle Smith was a top-notch student. Michelle";
		c.dispatchEvent(new Event("input", { bubbles: true }));
		const run = document.getElementById("run");
		run.click();
		run.click();
		setTimeout(() => run.click(), 1);
	})()`)
	tb.wait("the run's end", `patchlab.timings().runs >= 1 && !patchlab.status().running`, 30*time.Second)
	if n := eval[int](tb, `patchlab.timings().runs`); n != 1 {
		t.Errorf("%d sweeps started, want 1", n)
	}
	seen := eval[[]string](tb, `seen`)
	for _, s := range seen {
		if strings.Contains(s, "Cancelled") || strings.Contains(s, "failed") {
			t.Errorf("the status said %q", s)
		}
	}
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Swept") {
		t.Errorf("the run ended with %q", st)
	}
	heatmapMatchesNative(t, e, tb, "Run pressed twice")

	// With fresh tokens, the first click disables the button at once.
	if !eval[bool](tb, `(() => { const run = document.getElementById("run"); run.click(); const d = run.disabled; run.click(); return d; })()`) {
		t.Errorf("Run is still enabled after a click")
	}
	tb.wait("the run's end", `!patchlab.status().running`, 30*time.Second)
	if n := eval[int](tb, `patchlab.timings().runs`); n != 2 {
		t.Errorf("%d sweeps started, want 2", n)
	}
	t.Logf("statuses: %q", eval[[]string](tb, `seen`))
}

// TestCancelThenRun cancels a sweep and runs again in the same moment,
// without waiting for the workers to stop (the rows they are on are
// abandoned), once in the middle of the sweep and once before the two
// texts have run: the heatmap ends complete and right.
func TestCancelThenRun(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=2&row_delay_ms=150", 2)
	eval[chromedp.Void](tb, `(() => {
		window.seen = [];
		new MutationObserver(() => seen.push(document.getElementById("run-status").textContent + " " + JSON.stringify(patchlab.timings())))
			.observe(document.getElementById("run-status"), { childList: true, characterData: true, subtree: true });
	})()`)
	defer func() { t.Logf("statuses: %q", eval[[]string](tb, `seen`)) }()
	tb.do(chromedp.Click(chromedp.ID("run")))
	tb.wait("a first row", `["embed", "resid_post"].some(s => { const w = patchlab.sweep(s); return w && w.done.some(d => d); })`, 60*time.Second)
	eval[chromedp.Void](tb, `(() => { document.getElementById("cancel").click(); document.getElementById("run").click(); })()`)
	tb.wait("the run's end", `patchlab.timings().runs === 2 && !patchlab.status().running`, 30*time.Second)
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Swept") {
		t.Errorf("mid-sweep: the run ended with %q", st)
	}
	heatmapMatchesNative(t, e, tb, "Cancel and Run mid-sweep")

	// Before the baseline: everything computed again, cancelled at once, run.
	eval[chromedp.Void](tb, `(() => { patchlab.run({ fresh: true }); patchlab.cancel(); patchlab.run(); })()`)
	tb.wait("the run's end", `patchlab.timings().runs === 4 && !patchlab.status().running`, 30*time.Second)
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Swept") {
		t.Errorf("before the baseline: the run ended with %q", st)
	}
	heatmapMatchesNative(t, e, tb, "Cancel and Run before the baseline")
	tb.wait("the workers to stop", `patchlab.status().workers.busy === 0`, 60*time.Second)
}

// faultServer serves the site as serve does, with some of its files
// replaced by handlers that break them (set by the test, case after case).
// Its origin is new: the page finds nothing of the other tests' in its
// caches; the URLs stay the same from case to case, so the browser
// compiles the engine once.
type faultServer struct {
	*httptest.Server
	mu     sync.Mutex
	faults map[string]http.HandlerFunc
}

func newFaultServer(e *env) *faultServer {
	fs := &faultServer{}
	files := http.NewServeMux()
	for _, name := range []string{"model.safetensors", "config.json"} {
		files.HandleFunc("/fixtures/tiny/"+name, func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, filepath.Join(fixtures, "tiny-gpt2", name))
		})
	}
	files.Handle("/", web.Handler(e.dist))
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		h := fs.faults[r.URL.Path]
		fs.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
	return fs
}

func (fs *faultServer) set(faults map[string]http.HandlerFunc) {
	fs.mu.Lock()
	fs.faults = faults
	fs.mu.Unlock()
}

func serveBytes(ctype string, data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	}
}

// TestWeightFaults serves the page weights broken in each way a server or
// a disk can break them. The page must say which file is wrong and how,
// keep its tokenizer and controls, and take a good model after: from a URL
// in float32, or from the disk converted to the web format (alternately).
func TestWeightFaults(t *testing.T) {
	e := setup(t)
	manifest, err := os.ReadFile(filepath.Join(e.dist, "weights", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m webfmt.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	shard := m.Shards[0].File
	data, err := os.ReadFile(filepath.Join(e.dist, "weights", shard))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/3] ^= 0x10
	// A manifest of the next version of the format (one this build cannot read).
	next := webfmt.Version + 1
	v2 := regexp.MustCompile(`"version":\s*\d+`).ReplaceAll(manifest, fmt.Appendf(nil, `"version": %d`, next))
	if bytes.Equal(v2, manifest) {
		t.Fatalf("no version in the manifest: %.200s", manifest)
	}
	page := []byte("<!doctype html><html><head><title>Not here</title></head><body><h1>Welcome</h1></body></html>\n")
	shardPath := "/weights/" + shard
	srv := newFaultServer(e)
	defer srv.Close()
	tb := newTab(t, e)
	tb.origin = srv.URL
	for i, c := range []struct {
		name   string
		faults map[string]http.HandlerFunc
		says   []string
	}{
		{"truncated", map[string]http.HandlerFunc{shardPath: serveBytes("application/octet-stream", data[:len(data)/2])},
			[]string{"The weights could not be loaded: shard " + shard + ": " + strconv.Itoa(len(data)/2) + " bytes, the manifest says " + strconv.Itoa(len(data)) + " (a truncated file or download?)"}},
		{"cut off in transfer", map[string]http.HandlerFunc{shardPath: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}}, []string{"The weights could not be loaded: shard " + shard + ": the download broke off after "}},
		{"a bit flipped", map[string]http.HandlerFunc{shardPath: serveBytes("application/octet-stream", flipped)},
			[]string{"The weights could not be loaded: shard " + shard + ": its sha256 does not match the manifest"}},
		{"missing (404)", map[string]http.HandlerFunc{shardPath: http.NotFound},
			[]string{"The weights could not be loaded: shard " + shard + ": HTTP 404 Not Found from http://", shardPath}},
		{"an HTML page (200)", map[string]http.HandlerFunc{shardPath: serveBytes("text/html; charset=utf-8", page)},
			[]string{"The weights could not be loaded: shard " + shard + ": http://", shardPath + " answered with an HTML page (text/html), not the shard's bytes"}},
		{"a manifest of another version", map[string]http.HandlerFunc{"/weights/manifest.json": serveBytes("application/json", v2)},
			[]string{fmt.Sprintf("The weights could not be loaded: weights/manifest.json: manifest version %d is not supported", next)}},
		{"a manifest that is an HTML page", map[string]http.HandlerFunc{"/weights/manifest.json": serveBytes("text/html", page)},
			[]string{"weights/manifest.json beside this page is an HTML page, not a manifest"}},
		{"a manifest that is not JSON", map[string]http.HandlerFunc{"/weights/manifest.json": serveBytes("application/json", []byte("{\"format\": \"patchlab-int8\", \"vers"))},
			[]string{"The weights could not be loaded: weights/manifest.json is not a weights manifest: it is not JSON"}},
	} {
		start := time.Now()
		// What the last case kept in this browser (a converted model) goes.
		if i > 0 {
			eval[chromedp.Void](tb, `PatchlabStore.clear()`)
		}
		srv.set(c.faults)
		tb.do(chromedp.Navigate(srv.URL + "/?workers=1&sw=0"))
		tb.wait("the message", `!document.getElementById("weights").hidden && /could not be loaded|HTML page/.test(document.getElementById("weights-why").textContent)`, 60*time.Second)
		why := eval[string](tb, `document.getElementById("weights-why").textContent`)
		for _, want := range c.says {
			if !strings.Contains(why, want) {
				t.Errorf("%s: %q does not say %q", c.name, why, want)
			}
		}
		if i == 0 {
			// Without a model, a worker that crashes is replaced for the tokenizer.
			eval[chromedp.Void](tb, `patchlab.crashWorker(0, "panic")`)
			tb.wait("the note", `patchlab.status().runStatus.endsWith("; a new one was started.")`, 60*time.Second)
		}
		// The page still works: the tokenizer answers, Run waits for a model.
		tb.setInput("clean", "Michelle Jones was a top-notch student. Michelle")
		tb.wait("the tokens", `document.querySelectorAll("#clean-tokens .chip").length === 11`, 60*time.Second)
		if st := eval[string](tb, `patchlab.status().modelStatus + (document.getElementById("run").disabled ? "" : " Run enabled")`); !strings.HasPrefix(st, "No model") {
			t.Errorf("%s: the model status is %q", c.name, st)
		}
		// A good model: by URL in float32, or from the disk converted to the web format.
		if i%2 == 0 {
			tb.do(chromedp.Click(chromedp.CSS(`input[name=precision][value=f32]`)),
				chromedp.SetValue(chromedp.ID("weights-url"), srv.URL+"/fixtures/tiny/model.safetensors"),
				chromedp.Click(chromedp.ID("weights-fetch")))
		} else {
			tb.do(chromedp.SetUploadFiles(chromedp.ID("weights-file"), []string{
				abs(t, filepath.Join(fixtures, "tiny-gpt2", "model.safetensors")), abs(t, filepath.Join(fixtures, "tiny-gpt2", "config.json"))}))
		}
		tb.wait("the good model", `patchlab.status().ready && patchlab.status().workers.ready >= 1`, 30*time.Second)
		tb.runAndWait()
		if n := eval[int](tb, `patchlab.heatmap().computed`); n != 5 {
			t.Errorf("%s: %d rows computed after a good model", c.name, n)
		}
		t.Logf("%s: %q; then a good model ran (%v)", c.name, why, time.Since(start).Round(time.Millisecond))
	}
}

func abs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestNotGPT2File opens, over a working model, files that are not GPT-2
// checkpoints: a safetensors file with one random tensor (converted to
// the web format, and opened in float32), and an HTML page saved as
// model.safetensors. Each is refused with its name, the model the page had
// stays and runs; then a good file replaces it.
func TestNotGPT2File(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	random := filepath.Join(dir, "random.safetensors")
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, []safetensors.NamedTensor{{Name: "noise", DType: "F32", Shape: []int{3, 5}, Data: bytes.Repeat([]byte{0x3f, 0x80, 0, 0}, 15)}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(random, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	htmlFile := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(htmlFile, []byte("<!doctype html><title>Download</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, e)
	tb.open("?workers=2", 2)
	tb.do(chromedp.Click(chromedp.ID("weights-show")))
	for _, c := range []struct {
		precision, file, says string
	}{
		{"int8", random, `random.safetensors could not be converted: random.safetensors: missing tensor "wte.weight" (not a GPT-2 checkpoint?)`},
		{"f32", random, `random.safetensors could not be opened: random.safetensors: missing tensor "wte.weight" (not a GPT-2 checkpoint?)`},
		{"int8", htmlFile, `model.safetensors could not be converted: model.safetensors: `},
		{"f32", htmlFile, `model.safetensors could not be opened: model.safetensors: `},
	} {
		tb.do(chromedp.Click(chromedp.CSS(`input[name=precision][value=`+c.precision+`]`)),
			chromedp.SetUploadFiles(chromedp.ID("weights-file"), []string{c.file}))
		tb.wait("the refusal", fmt.Sprintf(`document.getElementById("weights-why").textContent.startsWith(%q)`, c.says), 60*time.Second)
		why := eval[string](tb, `document.getElementById("weights-why").textContent`)
		st := eval[string](tb, `patchlab.status().modelStatus`)
		if !strings.HasPrefix(st, "A 4-layer test model · ready") || eval[int](tb, `patchlab.status().loads`) != 1 {
			t.Errorf("%s in %s: the model is gone: %q", filepath.Base(c.file), c.precision, st)
		}
		tb.runAndWait()
		heatmapMatchesNative(t, e, tb, "the model kept")
		eval[chromedp.Void](tb, `patchlab.run({fresh: true})`) // the next check runs it all again
		tb.wait("the run's end", `!patchlab.status().running`, 30*time.Second)
		t.Logf("%s, %s: %q", filepath.Base(c.file), c.precision, why)
	}
	tb.do(chromedp.Click(chromedp.CSS(`input[name=precision][value=f32]`)),
		chromedp.SetUploadFiles(chromedp.ID("weights-file"), []string{
			abs(t, filepath.Join(fixtures, "tiny-gpt2", "model.safetensors")), abs(t, filepath.Join(fixtures, "tiny-gpt2", "config.json"))}))
	tb.wait("the float32 model", `patchlab.status().loads === 2 && patchlab.status().ready && !patchlab.status().info.quantized`, 30*time.Second)
	tb.runAndWait()
	g := e.golden.find("michelle")
	if w := worst(t, "resid_post", readSweep(tb, "resid_post").diffs(t), g.PatchResidPost); w > 1e-3 {
		t.Errorf("the good file after the bad ones: resid_post differs from the golden values by %g", w)
	}
}
