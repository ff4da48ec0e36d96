package sitetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fuzzQuery builds a random, mostly hostile link query: known and unknown
// keys, broken percent escapes, markup, control and non-BMP characters,
// repeated keys and texts past the length limit.
func fuzzQuery(r *rand.Rand) string {
	keys := []string{"clean", "corrupted", "clean_target", "corrupted_target", "site", "metric", "workers", "__proto__", "constructor", ""}
	pieces := []string{"%", "%ff", "%zz", "%E2%82", "&", "=", "#", "?", "+", "<img src=x onerror=alert(1)>", "\x00", "\u202e", "🤖", "resid_post", "z_per_position", "logit_diff", "prob_diff", "hasOwnProperty"}
	var b strings.Builder
	if r.IntN(2) == 0 {
		b.WriteString([]string{"?", "#", "??", ""}[r.IntN(4)])
	}
	for range r.IntN(8) {
		b.WriteString(keys[r.IntN(len(keys))])
		b.WriteString("=")
		switch r.IntN(6) {
		case 0:
			b.WriteString(strings.Repeat("a", 3990+r.IntN(20)))
		case 1:
			for range r.IntN(12) {
				b.WriteRune(rune(r.IntN(0x11000)))
			}
		default:
			for range r.IntN(6) {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		b.WriteString("&")
	}
	return b.String()
}

// TestURLStateFuzz runs the page's own link parser (site/urlstate.js) on
// thousands of random hostile links in the browser: it never throws, keeps
// only the known fields, never a text over its limit nor an unknown site or
// metric; and a state it writes reads back the same.
func TestURLStateFuzz(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.do(chromedp.Navigate(tb.origin + "/"))
	tb.wait("the page", `window.patchlab !== undefined`, 30*time.Second)

	r := rand.New(rand.NewPCG(20261128, 7))
	queries := make([]string, 3000)
	for i := range queries {
		queries[i] = fuzzQuery(r)
	}
	js, _ := json.Marshal(queries)
	sites := []string{"embed", "resid_post", "attn_out", "mlp_out", "z", "z_per_position"}
	metrics := []string{"logit_diff", "clean_target_delta", "normalized", "prob_diff"}
	text := func() string { // a hostile but well-formed text
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString([]string{"a", " ", "&", "=", "#", "%", "+", "?", "<b>", "\n", "\t", "🤖", "é", "\u202e"}[r.IntN(14)])
		}
		return b.String()
	}
	states := make([]map[string]string, 300)
	for i := range states {
		states[i] = map[string]string{"clean": text(), "corrupted": text(), "clean_target": text(), "corrupted_target": text(),
			"site": sites[r.IntN(len(sites))], "metric": metrics[r.IntN(len(metrics))]}
	}
	sj, _ := json.Marshal(states)
	type result struct {
		Runs     int      `json:"runs"`
		Failures []string `json:"failures"`
	}
	got := eval[result](tb, fmt.Sprintf(`(async () => {
		const { readState, writeState } = await import("./urlstate.js");
		const sites = {embed: 1, resid_post: 1, attn_out: 1, mlp_out: 1, z: 1, z_per_position: 1};
		const metrics = {logit_diff: 1, clean_target_delta: 1, normalized: 1, prob_diff: 1};
		const texts = ["clean", "corrupted", "clean_target", "corrupted_target"];
		const failures = [];
		let runs = 0;
		for (const q of %s) {
			runs++;
			let s;
			try {
				s = readState({search: q, hash: q}, sites, metrics);
			} catch (err) {
				failures.push("threw on " + JSON.stringify(q).slice(0, 80) + ": " + err);
				continue;
			}
			for (const [k, v] of Object.entries(s)) {
				const ok = texts.includes(k) ? typeof v === "string" && v.length <= 4000
					: k === "site" ? Object.hasOwn(sites, v)
					: k === "metric" ? Object.hasOwn(metrics, v) : false;
				if (!ok) failures.push("kept " + k + "=" + String(v).slice(0, 40) + " from " + JSON.stringify(q).slice(0, 80));
			}
		}
		for (const s of %s) {
			runs++;
			writeState(s);
			const back = readState(location, sites, metrics);
			for (const k of Object.keys(s)) {
				if (back[k] !== s[k]) failures.push("round trip of " + k + "=" + JSON.stringify(s[k]).slice(0, 60) + " gave " + JSON.stringify(back[k]));
			}
		}
		return {runs, failures: failures.slice(0, 10)};
	})()`, js, sj))
	if got.Runs != len(queries)+len(states) || len(got.Failures) > 0 {
		t.Fatalf("%d of %d links parsed; failures: %q", got.Runs, len(queries)+len(states), got.Failures)
	}
	t.Logf("%d random links parsed clean, %d states written and read back", len(queries), len(states))
}
