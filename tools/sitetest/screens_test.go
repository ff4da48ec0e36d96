package sitetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screens are the sizes a class holds: a phone, a portrait tablet or a
// half-screen window, a laptop.
var screens = []struct {
	name string
	w, h int64
}{
	{"phone", 375, 812},
	{"tablet", 800, 900},
	{"laptop", 1280, 800},
}

// layoutFacts is what TestScreens measures of the page after a run.
type layoutFacts struct {
	ScrollWidth, ViewportWidth int
	Canvas                     struct{ W, H, Top, Bottom, Left, Right float64 }
	Box                        struct{ W, H float64 }
	Tables                     []struct {
		ID                  string
		TableW, CardRight   float64
		TableRight          float64
		Header              string
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
			tb.do(chromedp.EmulateViewport(s.w, s.h))
			tb.open("?workers=2", 1)
			before := eval[layoutFacts](tb, measureLayout)
			if before.ScrollWidth > int(s.w) {
				t.Errorf("before a run the page is %d px wide in a %d px window", before.ScrollWidth, s.w)
			}
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
