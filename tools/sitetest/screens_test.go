package sitetest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screens are the sizes a class holds: a phone, a portrait tablet or a
// half-screen window, a laptop.
// The narrow phone and a laptop at 200 % zoom (640 CSS px at twice the
// pixels) must stay usable too.
var screens = []struct {
	name  string
	w, h  int64
	scale float64
}{
	{"phone", 375, 812, 1},
	{"tablet", 800, 900, 1},
	{"laptop", 1280, 800, 1},
	{"narrow-phone", 320, 640, 1},
	{"laptop-zoom-200", 640, 400, 2},
}

// layoutFacts is what TestScreens measures of the page after a run.
type layoutFacts struct {
	ScrollWidth, ViewportWidth int
	Canvas                     struct{ W, H, Top, Bottom, Left, Right float64 }
	Box                        struct{ W, H float64 }
	Tables                     []struct {
		ID                string
		TableW, CardRight float64
		TableRight        float64
		Header            string
	}
}

const measureLayout = `(() => {
	const r = (e) => e.getBoundingClientRect();
	const c = r(document.getElementById("heatmap")), box = r(document.querySelector(".canvas-box"));
	const card = r(document.getElementById("results"));
	return {
		ScrollWidth: document.documentElement.scrollWidth,
		ViewportWidth: document.documentElement.clientWidth,
		Canvas: { W: c.width, H: c.height, Top: c.top, Bottom: c.bottom, Left: c.left, Right: c.right },
		Box: { W: box.width, H: box.height },
		Tables: ["clean-top", "corrupted-top"].map((id) => {
			const t = document.getElementById(id);
			return { ID: id, TableW: r(t).width, TableRight: r(t).right, CardRight: card.right, Header: t.tHead.rows[0].cells[0].textContent };
		}),
	};
})()`

// TestScreens runs the Michelle example on a phone, a tablet and a laptop:
// after Run the heatmap is on screen with its size, the page never scrolls
// sideways, the top-20 tables fit their card, and on the laptop the whole
// heatmap is in view without scrolling. It saves a screenshot of each.
func TestScreens(t *testing.T) {
	e := setup(t)
	for _, s := range screens {
		t.Run(s.name, func(t *testing.T) {
			tb := newTab(t, e)
			tb.do(chromedp.EmulateViewport(s.w, s.h, chromedp.EmulateScale(s.scale)))
			tb.open("?workers=2", 1)
			before := eval[layoutFacts](tb, measureLayout)
			if before.ScrollWidth > int(s.w) {
				t.Errorf("before a run the page is %d px wide in a %d px window", before.ScrollWidth, s.w)
			}
			top, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			artifact(t, fmt.Sprintf("patchlab-%s-%dx%d-before.png", s.name, s.w, s.h), top)
			tb.runAndWait()
			tb.wait("the heatmap", `patchlab.heatmap() && patchlab.heatmap().computed === patchlab.heatmap().rows`, 60*time.Second)
			f := eval[layoutFacts](tb, measureLayout)
			t.Logf("%dx%d: %+v", s.w, s.h, f)
			if f.ScrollWidth > int(s.w) {
				t.Errorf("the page is %d px wide in a %d px window: it scrolls sideways", f.ScrollWidth, s.w)
			}
			if f.Canvas.W <= 0 || f.Canvas.H <= 0 || f.Box.W <= 0 || f.Box.H < f.Canvas.H*0.9 {
				t.Errorf("the heatmap is not visible: canvas %g×%g in a box %g×%g", f.Canvas.W, f.Canvas.H, f.Box.W, f.Box.H)
			}
			if f.Canvas.Top < 0 || f.Canvas.Top >= float64(s.h) {
				t.Errorf("after Run the heatmap is out of view (its top at %g px in a %d px window)", f.Canvas.Top, s.h)
			}
			if s.name == "laptop" && f.Canvas.Bottom > float64(s.h) {
				t.Errorf("on a laptop the heatmap does not fit in view: %g to %g px in a %d px window", f.Canvas.Top, f.Canvas.Bottom, s.h)
			}
			for _, tbl := range f.Tables {
				if tbl.TableRight > tbl.CardRight+0.5 {
					t.Errorf("%s runs %g px past its card", tbl.ID, tbl.TableRight-tbl.CardRight)
				}
				if tbl.Header != "Rank" {
					t.Errorf("%s's first column is %q, want Rank", tbl.ID, tbl.Header)
				}
			}
			tapLastCell(t, tb)
			shot, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			artifact(t, fmt.Sprintf("patchlab-%s-%dx%d.png", s.name, s.w, s.h), shot)
			full, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100)) // PNG
			if err != nil {
				t.Fatal(err)
			}
			artifact(t, fmt.Sprintf("patchlab-%s-%dx%d-full.png", s.name, s.w, s.h), full)
		})
	}
}

// tapLastCell scrolls the heatmap's box to its end, as a finger would on a
// phone, and taps the cell of the last column in row 1: the cell is read
// out and shown, and the rows' labels stay in view beside it.
func tapLastCell(t *testing.T, tb *tab) {
	t.Helper()
	at := eval[struct {
		X, Y                float64
		Scrolls, StripShown bool
		StripLeft, BoxLeft  float64
		Cols                int
	}](tb, `(() => {
		const box = document.querySelector(".canvas-box"), canvas = document.getElementById("heatmap"), strip = document.getElementById("heatmap-rows");
		box.scrollLeft = box.scrollWidth;
		const L = patchlab.heatmap().layout, r = canvas.getBoundingClientRect(), c = patchlab.heatmap().cols - 1;
		canvas.scrollIntoView({ block: "center" });
		const r2 = canvas.getBoundingClientRect();
		return { X: r2.left + L.left + c * L.cellW + L.cellW / 2, Y: r2.top + L.top + 1.5 * L.cellH, Cols: c + 1,
			Scrolls: box.scrollWidth > box.clientWidth + 1, StripShown: !strip.hidden,
			StripLeft: strip.getBoundingClientRect().left, BoxLeft: box.getBoundingClientRect().left };
	})()`)
	if at.Scrolls && (!at.StripShown || at.StripLeft-at.BoxLeft > 1 || at.StripLeft < at.BoxLeft-1) {
		t.Errorf("the heatmap scrolls in its box but its row labels do not stay in view (shown %v, at %g px in a box at %g px)", at.StripShown, at.StripLeft, at.BoxLeft)
	}
	tb.do(chromedp.MouseClickXY(at.X, at.Y))
	live := eval[string](tb, `document.getElementById("heat-live").textContent`)
	want := fmt.Sprintf("position %d", at.Cols-1)
	if !strings.Contains(live, "layer 0") || !strings.Contains(live, want) {
		t.Errorf("tapping the last cell of layer 0 reads %q, want layer 0 and %s", live, want)
	}
	if eval[bool](tb, `document.getElementById("tooltip").hidden`) {
		t.Errorf("a tapped cell shows no tooltip")
	}
}

// TestMistakes types the common mistakes: each gets its message beside
// its field before anything runs, and the leading-space one a button that
// fixes it. After a run, a target the model hardly expects is said too.
func TestMistakes(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.do(chromedp.EmulateViewport(375, 812))
	tb.open("?workers=1", 1)
	warn := func(f string) string {
		return eval[string](tb, fmt.Sprintf(`(() => { const w = document.getElementById(%q); return w.hidden ? "" : w.textContent; })()`, f+"-warn"))
	}

	// A target without its leading space, fixed by its button.
	tb.setInput("clean_target", "Jones")
	tb.wait("the leading-space warning", `!document.getElementById("clean_target-warn").hidden`, 60*time.Second)
	if w := warn("clean_target"); !strings.Contains(w, "no leading space") || !strings.Contains(w, `Use “␣Jones”`) {
		t.Errorf("the leading-space warning reads %q", w)
	}
	if w := warn("corrupted_target"); w != "" {
		t.Errorf("the corrupted target, which is right, is warned: %q", w)
	}
	if d := eval[string](tb, `document.getElementById("clean_target").getAttribute("aria-describedby") || ""`); !strings.Contains(d, "clean_target-warn") {
		t.Errorf("the field is not described by its warning (aria-describedby %q)", d)
	}
	tb.do(chromedp.Click(chromedp.CSS("#clean_target-warn button.fix")))
	if v := eval[string](tb, `document.getElementById("clean_target").value`); v != " Jones" {
		t.Errorf("the fix put %q in the clean target, want \" Jones\"", v)
	}
	tb.wait("the warning to go", `document.getElementById("clean_target-warn").hidden && document.getElementById("check").hidden`, 60*time.Second)

	// Identical texts and equal targets: refused, saying why.
	for _, c := range []struct{ field, value, says string }{
		{"corrupted", "Michelle Jones was a top-notch student. Michelle", "same tokens as the clean text"},
		{"corrupted_target", " Jones", "both targets are the token"},
	} {
		old := eval[string](tb, fmt.Sprintf(`document.getElementById(%q).value`, c.field))
		tb.setInput(c.field, c.value)
		tb.wait("the message", fmt.Sprintf(`!document.getElementById("check").hidden && document.getElementById("check-msg").textContent.includes(%q)`, c.says), 60*time.Second)
		if got := eval[string](tb, fmt.Sprintf(`document.getElementById(%q).getAttribute("aria-invalid")`, c.field)); got != "true" {
			t.Errorf("%s: the field is not marked invalid", c.says)
		}
		tb.do(chromedp.Click(chromedp.ID("run")))
		tb.wait("the refusal", `patchlab.status().runStatus.startsWith("Nothing was run")`, 60*time.Second)
		if eval[bool](tb, `patchlab.baseline() !== null`) {
			t.Errorf("%s: a run started", c.says)
		}
		tb.setInput(c.field, old)
		tb.wait("the message to go", `document.getElementById("check").hidden`, 60*time.Second)
	}

	// The 4-layer test model hardly expects " Jones": said after the run.
	tb.runAndWait()
	tb.wait("the run's warning", `!document.getElementById("clean_target-warn").hidden`, 60*time.Second)
	if w := warn("clean_target"); !strings.Contains(w, "hardly expects") {
		t.Errorf("the unlikely-target warning reads %q", w)
	}
	tb.setInput("clean", "Michelle Jones was a top-notch student. Jessica")
	tb.wait("the run's warning to go with its texts", `document.getElementById("clean_target-warn").hidden`, 60*time.Second)
}

// TestHeatmapTexts checks what the heatmap says as a student uses it: the
// model named for what it is; the help follows the view; the messages
// before a view's first row; no stale status or tooltip after a switch;
// numbers formatted for the range (the probability difference of this
// small model is some 1e-5); the z subtitle whole; the tooltip clear of the
// colour bar; the PNG's title with both texts; export names cut at words.
func TestHeatmapTexts(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.do(chromedp.EmulateViewport(1280, 800))
	tb.open("?workers=1", 1)
	if st := eval[string](tb, `patchlab.status().modelStatus`); !strings.HasPrefix(st, "A 4-layer test model · ready · ") || strings.Contains(st, "GPT-2 small") {
		t.Errorf("the status line reads %q", st)
	}
	if n := eval[string](tb, `document.body.innerText`); strings.Contains(n, "GPT-2 small (124M)") || strings.Contains(n, "activation patching on GPT-2 small") {
		t.Errorf("the page calls the 4-layer test model GPT-2 small")
	}
	if d := eval[string](tb, `document.getElementById("model-detail").textContent`); !strings.Contains(d, "4 layers × 4 heads") || !strings.Contains(d, "bit") {
		t.Errorf("the model's details read %q", d)
	}
	setSelect := func(id, v string) {
		eval[chromedp.Void](tb, fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event("change")); })()`, id, v))
	}
	help := func() string { return eval[string](tb, `document.getElementById("howto-view").textContent`) }

	// Every message the heatmap's problem line shows during the runs.
	eval[chromedp.Void](tb, `(() => {
		window.problems = [];
		const p = document.getElementById("heat-problem");
		new MutationObserver(() => { if (!p.hidden) problems.push(document.getElementById("heat-problem-text").textContent); })
			.observe(p, { attributes: true, childList: true, characterData: true, subtree: true });
	})()`)
	tb.runAndWait()
	if h := help(); !strings.Contains(h, "embed") {
		t.Errorf("resid_post's help: %q", h)
	}
	for _, p := range eval[[]string](tb, `problems`) {
		if strings.Contains(p, "after the current run") {
			t.Errorf("at the start of its own sweep the heatmap says %q", p)
		}
	}

	// The head view: its own help and a subtitle not cut.
	setSelect("site", "z")
	tb.wait("z", `!patchlab.status().running && patchlab.heatmap().computed === patchlab.heatmap().rows`, 60*time.Second)
	if h := help(); !strings.Contains(h, "The columns are heads") || strings.Contains(h, "Columns before the first token") {
		t.Errorf("z's help speaks of positions: %q", h)
	}
	sub := eval[struct {
		Want, Page string
		Cut        bool
		PNG        []string
	}](tb, `(async () => {
		const hm = await import("./heatmap.js"), h = patchlab.heatmap(), e = document.getElementById("heat-sub");
		const L = hm.layout(document.createElement("canvas").getContext("2d"), h, 640);
		return { Want: h.subtitle, Page: e.textContent, Cut: e.scrollWidth > e.clientWidth, PNG: L.head.slice(1).map((l) => l.text) };
	})()`)
	if sub.Page != sub.Want || sub.Cut || strings.Join(sub.PNG, " ") != sub.Want {
		t.Errorf("z's subtitle is %q on the page (cut: %v) and %q in the PNG, want %q whole", sub.Page, sub.Cut, sub.PNG, sub.Want)
	}

	// A finished run's status is no news about another view.
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.Contains(st, "head z") {
		t.Errorf("after z's sweep the status reads %q", st)
	}
	tb.setInput("clean", "Michelle Jones was a top-notch student. Jessica")
	setSelect("site", "attn_out")
	if st := eval[string](tb, `patchlab.status().runStatus`); strings.Contains(st, "head z") {
		t.Errorf("attn_out shown, the status still reads %q", st)
	}
	tb.setInput("clean", "Michelle Jones was a top-notch student. Michelle")
	setSelect("site", "resid_post")

	// A view asked for during a run is computed after it, and says so.
	eval[chromedp.Void](tb, `patchlab.setRowDelay(150)`)
	eval[chromedp.Void](tb, `problems.length = 0`)
	setSelect("site", "mlp_out")
	tb.wait("mlp_out's run", `patchlab.status().running`, 60*time.Second)
	setSelect("site", "attn_out")
	tb.wait("the runs to end", `!patchlab.status().running && patchlab.heatmap().computed === patchlab.heatmap().rows`, 60*time.Second)
	eval[chromedp.Void](tb, `patchlab.setRowDelay(0)`)
	probs := eval[[]string](tb, `problems`)
	if !contains(probs, "This site is computed after the current run.") {
		t.Errorf("attn_out, asked for during mlp_out's run, said %q", probs)
	}

	// The tooltip: clear of the colour bar, and following the metric.
	setSelect("site", "resid_post")
	at := eval[struct{ X, Y, BarX float64 }](tb, `(() => {
		const L = patchlab.heatmap().layout, canvas = document.getElementById("heatmap");
		canvas.scrollIntoView({ block: "center" });
		const r = canvas.getBoundingClientRect(), c = patchlab.heatmap().cols - 1;
		return { X: r.left + L.left + (c + 0.5) * L.cellW, Y: r.top + L.top + 1.5 * L.cellH, BarX: r.left + L.left + L.gridW + L.barGap };
	})()`)
	tb.do(chromedp.MouseEvent("mouseMoved", at.X, at.Y))
	tip := eval[struct {
		Text  string
		Right float64
	}](tb, `(() => { const t = document.getElementById("tooltip"); return { Text: t.hidden ? "" : t.textContent, Right: t.getBoundingClientRect().right }; })()`)
	if !strings.Contains(tip.Text, "logit diff:") {
		t.Errorf("the tooltip reads %q", tip.Text)
	}
	if tip.Right > at.BarX {
		t.Errorf("the tooltip reaches %g px, over the colour bar at %g px", tip.Right, at.BarX)
	}
	setSelect("metric", "normalized")
	if got := eval[string](tb, `document.getElementById("tooltip").textContent`); !strings.Contains(got, "normalized:") {
		t.Errorf("after the metric changed under the pointer the tooltip reads %q", got)
	}

	// Small values: the numbers follow the range (no 0.00 everywhere).
	setSelect("metric", "prob_diff")
	tb.do(chromedp.Click(chromedp.ID("rerun-probs")))
	tb.wait("the probabilities", `!patchlab.status().running && patchlab.heatmap() && !patchlab.heatmap().problem && patchlab.heatmap().computed === patchlab.heatmap().rows`, 60*time.Second)
	f := eval[struct {
		Range float64
		Ticks []string
		Cell  string
	}](tb, `(async () => {
		const d = await import("./heatmap-data.js"), h = patchlab.heatmap();
		let big = 0;
		for (const v of h.values) if (v !== null && Math.abs(v) > Math.abs(big)) big = v;
		return { Range: h.range, Ticks: h.layout.ticks, Cell: d.format(big, h.range) };
	})()`)
	t.Logf("prob_diff: range %g, ticks %q, largest cell %q", f.Range, f.Ticks, f.Cell)
	if f.Range >= 1e-2 {
		t.Logf("the range is %g: not a small-effect case on this model", f.Range)
	}
	zero := regexp.MustCompile(`^−?0([.,]0*)?$`)
	if zero.MatchString(f.Cell) {
		t.Errorf("the largest cell reads %q at range %g", f.Cell, f.Range)
	}
	for i, tk := range f.Ticks {
		if i != 2 && (zero.MatchString(tk) || len([]rune(tk)) > 8) {
			t.Errorf("colour bar label %q at range %g", tk, f.Range)
		}
	}

	// The PNG's title carries both texts; its file name ends at a word.
	title := eval[[]string](tb, `(async () => {
		const hm = await import("./heatmap.js"), h = patchlab.heatmap();
		const L = hm.layout(document.createElement("canvas").getContext("2d"), h, 800, { texts: true });
		return L.head.map((l) => l.text);
	})()`)
	joined := strings.Join(title, " ")
	for _, want := range []string{`clean: "Michelle Jones was a top-notch student. Michelle"`, `corrupted: "Michelle Smith was a top-notch student. Michelle"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("the PNG's title %q lacks %s", title, want)
		}
	}
	eval[chromedp.Void](tb, `(() => { window.saved = []; HTMLAnchorElement.prototype.click = function () { saved.push(this.download); }; })()`)
	tb.do(chromedp.Click(chromedp.ID("export-png")))
	tb.wait("the PNG", `saved.length > 0`, 30*time.Second)
	if name := eval[string](tb, `saved[0]`); name != "patchlab-Michelle-Jones-was-a-top-notch-student-resid_post-prob_diff.png" {
		t.Errorf("the PNG is saved as %q", name)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
