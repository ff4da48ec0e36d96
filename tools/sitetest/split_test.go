package sitetest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSplitStart: two workers run one text each and swap the runs
// (PROTOCOL.md, start's half). The heatmap is the native one; and when one
// of the two ends before passing its run on, the other runs both texts and
// the run still completes, right.
func TestSplitStart(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	tb.open("?workers=2", 2)
	tb.runAndWait()
	trace := eval[[][3]any](tb, `patchlab.timings().trace`)
	var halves, started int
	for _, ev := range trace {
		switch s := ev[2].(string); {
		case s == "half":
			halves++
		case s == "started":
			started++
		}
	}
	if halves != 2 || started != 2 {
		t.Errorf("the run's trace %v: %d halves passed, %d workers started, want 2 and 2", trace, halves, started)
	}
	heatmapMatchesNative(t, e, tb, "split start")

	// Worker 2 ends as the run starts: the pool has not heard of it yet.
	notes := len(eval[[]string](tb, `patchlab.status().notes`))
	eval[chromedp.Void](tb, `(() => { patchlab.crashWorker(1, "close"); patchlab.run({fresh: true}); })()`)
	tb.wait("the note", `patchlab.status().notes.length > `+strconv.Itoa(notes), 30*time.Second)
	tb.wait("the run's end", `!patchlab.status().running`, 60*time.Second)
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Swept") {
		t.Errorf("the run ended with %q; trace %v", st, eval[any](tb, `patchlab.timings().trace`))
	}
	heatmapMatchesNative(t, e, tb, "split start, a worker lost")
	t.Logf("trace with a worker lost: %v", eval[any](tb, `patchlab.timings().trace`))

	// A worker ends when its half is done, before its partner has it: the
	// partner, already waiting to join, runs both texts itself.
	tb.wait("two workers again", `patchlab.status().workers.ready === 2`, 60*time.Second)
	notes = len(eval[[]string](tb, `patchlab.status().notes`))
	eval[chromedp.Void](tb, `(() => { patchlab.crashWorker(0, "half-close"); patchlab.run({fresh: true}); })()`)
	tb.wait("the note", `patchlab.status().notes.length > `+strconv.Itoa(notes), 30*time.Second)
	tb.wait("the run's end", `!patchlab.status().running`, 60*time.Second)
	trace = eval[[][3]any](tb, `patchlab.timings().trace`)
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Swept") {
		t.Errorf("the run ended with %q; trace %v", st, trace)
	}
	for _, ev := range trace {
		if ev[1] == float64(0) && ev[2] == "half" {
			t.Errorf("worker 1's half reached the pool, so its partner never had to run both texts: trace %v", trace)
		}
	}
	heatmapMatchesNative(t, e, tb, "split start, a worker lost before its half reached the other")
	t.Logf("trace with a worker lost after its half: %v", trace)
}
