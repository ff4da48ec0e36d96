package sitetest

// The weight controls: a conversion this browser cannot keep, and requests
// that come while a load is in progress.

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// failed is true when the weights panel says that something failed.
const failed = `/could not|failed/.test(document.getElementById("weights-why").textContent)`

// TestUnkeptConversion converts the fixture's checkpoint in the page while
// Cache Storage fails in the workers: first caches.open rejects (as in some
// private windows), then every put is refused (the quota exceeded). The
// page must say that the converted weights cannot be kept, load them from
// its memory all the same (in a worker that replaces a crashed one too),
// and run; nothing is left behind for a next visit to trip on.
func TestUnkeptConversion(t *testing.T) {
	e := setup(t)
	srv := newFaultServer(e) // an origin of its own: nothing kept from the other tests
	defer srv.Close()
	tb := newTab(t, e)
	tb.origin = srv.URL
	tb.open("?workers=1&sw=0", 1)
	upload := chromedp.SetUploadFiles(chromedp.ID("weights-file"), []string{
		abs(t, filepath.Join(fixtures, "tiny-gpt2", "model.safetensors")), abs(t, filepath.Join(fixtures, "tiny-gpt2", "config.json"))})
	for i, c := range []struct{ fault, why string }{
		{"open", "its Cache Storage failed (The operation is insecure.)"},
		{"quota", "the storage for this page is full (quota exceeded)"},
	} {
		eval[chromedp.Void](tb, fmt.Sprintf(`patchlab.storeFault(%q)`, c.fault))
		tb.do(chromedp.Click(chromedp.ID("weights-show")), chromedp.Click(chromedp.CSS(`input[name=precision][value=int8]`)), upload)
		tb.wait("the converted weights", fmt.Sprintf(`patchlab.status().loads === %d && patchlab.status().ready && patchlab.status().info.quantized || %s`, i+2, failed), 30*time.Second)
		if why := eval[string](tb, `document.getElementById("weights-why").textContent`); why != "" {
			t.Fatalf("%s: %q", c.fault, why)
		}
		want := "This browser cannot keep the converted weights: " + c.why + ". They are in this page's memory for this visit only"
		if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, want) || !strings.Contains(st, "float32") {
			t.Errorf("%s: the status is %q, want %q… (and float32 suggested)", c.fault, st, want)
		}
		if m := eval[*string](tb, `PatchlabStore.userManifest()`); m != nil {
			t.Errorf("%s: a manifest was kept without its shards: %.100s", c.fault, *m)
		}
		if i == 0 {
			tb.runAndWait()
			heatmapMatchesNative(t, e, tb, "weights kept in memory")
			// A worker that replaces a crashed one loads them from memory too.
			eval[chromedp.Void](tb, `patchlab.crashWorker(0, "panic")`)
			tb.wait("the new worker", `patchlab.status().notes.some(n => /a new worker is loading the model/.test(n)) && patchlab.status().workers.ready === 1`, 60*time.Second)
			if n := eval[[]string](tb, `patchlab.status().notes`); strings.Contains(strings.Join(n, " "), "could not load") {
				t.Errorf("the new worker: %q", n)
			}
		}
		t.Logf("%s: %q", c.fault, eval[string](tb, `patchlab.status().runStatus`))
	}
	eval[chromedp.Void](tb, `patchlab.storeFault(null)`)
	eval[chromedp.Void](tb, `patchlab.setRowDelay(0)`)
	tb.runAndWait()
	heatmapMatchesNative(t, e, tb, "after the worker was replaced")
}

// TestWeightsBusy picks a file twice in one go, then clicks Download twice
// (of a URL whose file name is a malformed escape, %FF): one conversion,
// one download, one model loaded each time; the weight controls are
// disabled while each is in progress and enabled after.
func TestWeightsBusy(t *testing.T) {
	e := setup(t)
	srv := newFaultServer(e)
	defer srv.Close()
	srv.set(map[string]http.HandlerFunc{"/fixtures/tiny/model\xff.safetensors": func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(fixtures, "tiny-gpt2", "model.safetensors"))
	}})
	tb := newTab(t, e)
	tb.origin = srv.URL
	tb.open("?workers=1&sw=0", 1)
	eval[chromedp.Void](tb, `(() => {
		window.statuses = [];
		// Every text the status line shows, however quickly replaced.
		new MutationObserver((records) => { for (const r of records) for (const n of r.addedNodes) statuses.push(n.textContent); })
			.observe(document.getElementById("model-status"), { childList: true, characterData: true, subtree: true });
	})()`)
	const controls = `[...document.querySelectorAll("#weights input, #weights button")]`
	const idle = `patchlab.status().ready && ` + controls + `.every(e => !e.disabled)`
	tb.wait("the controls", idle, 60*time.Second)

	// Two picks of the checkpoint in one go: the second is ignored.
	busy := eval[bool](tb, `(async () => {
		const blob = await (await fetch("fixtures/tiny/model.safetensors")).blob();
		const config = await (await fetch("fixtures/tiny/config.json")).blob();
		const input = document.getElementById("weights-file");
		const pick = () => {
			const dt = new DataTransfer();
			dt.items.add(new File([blob], "model.safetensors"));
			dt.items.add(new File([config], "config.json"));
			input.files = dt.files;
			input.dispatchEvent(new Event("change", { bubbles: true }));
		};
		pick();
		const busy = `+controls+`.every(e => e.disabled) && document.getElementById("weights").getAttribute("aria-busy") === "true";
		pick();
		document.getElementById("weights-fetch").click();
		return busy;
	})()`)
	if !busy {
		t.Errorf("the weight controls are not all disabled during a conversion")
	}
	tb.wait("the converted model", `patchlab.status().loads === 2 && `+idle, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // what a second conversion would have done meanwhile
	converting := 0
	for _, s := range eval[[]string](tb, `statuses`) {
		if strings.HasPrefix(s, "Converting") {
			converting++
		}
	}
	if n := eval[int](tb, `patchlab.status().loads`); n != 2 || converting != 1 {
		t.Errorf("two picks: %d conversions, %d models loaded; want 1 and 1 more (statuses %q)", converting, n-1, eval[[]string](tb, `statuses`))
	}
	if why := eval[string](tb, `document.getElementById("weights-why").textContent`); why != "" {
		t.Errorf("two picks: %q", why)
	}

	// Download clicked twice, in float32: the file name is kept as written.
	tb.do(chromedp.Click(chromedp.ID("weights-show")), chromedp.Click(chromedp.CSS(`input[name=precision][value=f32]`)),
		chromedp.SetValue(chromedp.ID("weights-url"), srv.URL+"/fixtures/tiny/model%FF.safetensors"))
	if !eval[bool](tb, `(() => { const b = document.getElementById("weights-fetch"); b.click(); const d = b.disabled; b.click(); return d; })()`) {
		t.Errorf("Download is still enabled after a click")
	}
	tb.wait("the float32 model", `patchlab.status().loads >= 3 && !patchlab.status().info.quantized && `+idle+` || `+failed, 30*time.Second)
	if why := eval[string](tb, `document.getElementById("weights-why").textContent`); why != "" {
		t.Fatalf("the download: %q", why)
	}
	time.Sleep(300 * time.Millisecond)
	if n := eval[int](tb, `patchlab.status().loads`); n != 3 {
		t.Errorf("Download clicked twice: %d models loaded, want 1", n-2)
	}
	tb.runAndWait()
	t.Logf("statuses: %q", eval[[]string](tb, `statuses`))
}
