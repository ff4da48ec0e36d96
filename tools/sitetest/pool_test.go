package sitetest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// runModule runs script, an ES module, under Node beside copies of the
// site's modules named, and returns what it prints. It skips the test
// without Node.
func runModule(t *testing.T, script string, modules ...string) []byte {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("this test runs site modules under Node.js (apt-get install nodejs)")
	}
	dir := t.TempDir()
	root := filepath.Join("..", "..", "site")
	for _, m := range modules {
		b, err := os.ReadFile(filepath.Join(root, m))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, m), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type": "module"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "main.js"), []byte(script), 0o644)
	out, err := exec.Command(node, filepath.Join(dir, "main.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return out
}

// The pool's size: what bounds it on a device (workerBudget) and how many
// workers pay given a probe's fixed measurements (decideWorkers), worked
// out by hand from the rules in pool.js.
func TestWorkerDecision(t *testing.T) {
	const webkit = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"
	const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	const chromium = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
	const android = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36"
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	const gpt2 = 140 << 20 // 9-bit GPT-2 small: a worker about 284 MB (1.6 × 140 + 60)
	type budget struct {
		Cores    *int
		ByMemory int
		PerMB    int
		BudgetMB int
	}
	type nav struct {
		UserAgent           string  `json:"userAgent"`
		HardwareConcurrency int     `json:"hardwareConcurrency,omitempty"`
		DeviceMemory        float64 `json:"deviceMemory,omitempty"`
	}
	n := func(x int) *int { return &x }
	budgets := []struct {
		name     string
		nav      nav
		measured float64 // MB per worker measured, 0: none yet
		start    int     // workerCount
		want     budget
	}{
		{"WebKit's 4 is a guess", nav{webkit, 4, 0}, 0, 2, budget{nil, 3, 284, 1024}},
		{"WebKit's 8 is not", nav{webkit, 8, 0}, 0, 2, budget{n(8), 3, 284, 1024}},
		{"a phone that says nothing of its memory", nav{iphone, 4, 0}, 0, 2, budget{nil, 2, 284, 640}},
		{"Chromium: 2 cores, 8 GB", nav{chromium, 2, 8}, 0, 2, budget{n(2), 14, 284, 4096}},
		{"Chromium: 8 cores, 2 GB", nav{chromium, 8, 2}, 0, 2, budget{n(8), 3, 284, 1024}},
		{"Chromium: 1 core", nav{chromium, 1, 8}, 0, 1, budget{n(1), 14, 284, 4096}},
		{"Chromium: 0.5 GB", nav{chromium, 8, 0.5}, 0, 1, budget{n(8), 1, 284, 256}},
		{"an Android phone of 4 GB: a quarter", nav{android, 8, 4}, 0, 2, budget{n(8), 3, 284, 1024}},
		{"Firefox: memory measured after the load", nav{firefox, 16, 0}, 300, 2, budget{n(16), 2, 375, 1024}},
	}
	type decision struct {
		Count int
		Free  *float64
		Why   string
	}
	decisions := []struct {
		name string
		in   map[string]any
		want int
		free float64 // 0: none
		why  string  // a part of the sentence
	}{
		{"2 cores said, 2 running: nothing to measure", map[string]any{"current": 2, "cores": 2, "byMemory": 14, "perMB": 284}, 2, 0, "2 workers: this device has 2 cores."},
		{"memory for 2 only", map[string]any{"current": 2, "cores": nil, "byMemory": 2, "perMB": 300}, 2, 0, "2 workers: more would need more memory than this device can spare (about 300 MB each)."},
		{"no measurement (the probe failed)", map[string]any{"current": 2, "cores": nil, "byMemory": 3, "perMB": 284}, 2, 0, "2 workers: whether more would be faster could not be measured."},
		{"3 loops as fast as one: 3 cores free", map[string]any{"current": 2, "cores": nil, "byMemory": 3, "perMB": 284, "t1": 40, "together": []float64{40, 41, 40}}, 3, 2.93, "3 workers: a quick measurement found about 2.9 cores free (the browser does not say how many this device has)."},
		{"4 loops twice as slow: 2 cores free", map[string]any{"current": 2, "cores": nil, "byMemory": 4, "perMB": 284, "t1": 40, "together": []float64{62, 80, 70, 79}}, 2, 2, "so more would not be faster"},
		{"the slowest loop counts, not the mean", map[string]any{"current": 2, "cores": nil, "byMemory": 4, "perMB": 284, "t1": 40, "together": []float64{40, 41, 80, 81}}, 2, 1.98, "about 2.0 cores free"},
		{"2.6 cores free: a third worker would get too little", map[string]any{"current": 2, "cores": 4, "byMemory": 4, "perMB": 284, "t1": 26, "together": []float64{40, 40, 40, 40}}, 2, 2.6, "so more would not be faster"},
		{"2.7 cores free: it pays", map[string]any{"current": 2, "cores": 4, "byMemory": 4, "perMB": 284, "t1": 27, "together": []float64{40, 40, 40, 40}}, 3, 2.7, "3 workers: a quick measurement found about 2.7 cores free."},
		{"4 free, memory for 3", map[string]any{"current": 2, "cores": 8, "byMemory": 3, "perMB": 284, "t1": 40, "together": []float64{40, 40, 40}}, 3, 3, "3 workers"},
		{"busy machine: never shrinks", map[string]any{"current": 2, "cores": 8, "byMemory": 14, "perMB": 284, "t1": 40, "together": []float64{160, 160, 160, 160}}, 2, 1, "about 1.0 cores free, so more would not be faster"},
		{"at most 4", map[string]any{"current": 4, "cores": 16, "byMemory": 14, "perMB": 284}, 4, 0, "4 workers: the page runs at most 4."},
		{"1 worker grows to 2", map[string]any{"current": 1, "cores": nil, "byMemory": 2, "perMB": 284, "t1": 40, "together": []float64{44, 45}}, 2, 1.78, "2 workers"},
	}
	in := map[string]any{}
	var bs, ds []any
	for _, b := range budgets {
		bs = append(bs, map[string]any{"nav": b.nav, "measured": b.measured})
	}
	for _, d := range decisions {
		ds = append(ds, d.in)
	}
	in["budgets"], in["decisions"] = bs, ds
	js, _ := json.Marshal(in)
	out := runModule(t, `import { workerBudget, workerCount, decideWorkers } from "./pool.js";
const mb = 1048576, gpt2 = `+itoa(gpt2)+`;
const input = `+string(js)+`;
const budgets = input.budgets.map((b) => {
	globalThis.navigator = b.nav; // workerCount reads the browser's
	return { budget: workerBudget(gpt2, b.measured, b.nav), start: workerCount(gpt2, 0), asked: workerCount(gpt2, 3) };
});
console.log(JSON.stringify({ budgets, decisions: input.decisions.map(decideWorkers) }));
`, "pool.js", "errors.js")
	var got struct {
		Budgets []struct {
			Budget       budget
			Start, Asked int
		}
		Decisions []decision
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, b := range budgets {
		g := got.Budgets[i]
		gb, wb := g.Budget, b.want
		if (gb.Cores == nil) != (wb.Cores == nil) || (gb.Cores != nil && *gb.Cores != *wb.Cores) || gb.ByMemory != wb.ByMemory || gb.PerMB != wb.PerMB || gb.BudgetMB != wb.BudgetMB {
			js1, _ := json.Marshal(gb)
			js2, _ := json.Marshal(wb)
			t.Errorf("%s: budget %s, want %s", b.name, js1, js2)
		}
		if g.Start != b.start || g.Asked != 3 {
			t.Errorf("%s: starts with %d workers (%d when 3 are asked for), want %d (3)", b.name, g.Start, g.Asked, b.start)
		}
	}
	for i, d := range decisions {
		g := got.Decisions[i]
		if g.Count != d.want {
			t.Errorf("%s: %d workers (%s), want %d", d.name, g.Count, g.Why, d.want)
		}
		if (g.Free == nil) != (d.free == 0) || (g.Free != nil && (*g.Free < d.free-0.01 || *g.Free > d.free+0.01)) {
			t.Errorf("%s: free cores %v, want %g", d.name, g.Free, d.free)
		}
		if !strings.Contains(g.Why, d.why) {
			t.Errorf("%s: says %q, want it to say %q", d.name, g.Why, d.why)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestPoolGrows opens the page with no worker count asked for, in a
// browser that says it has 4 cores (as WebKit says on any machine with
// fewer than 8): the pool starts with 2, measures, and ends up with a
// count that the measurement and the machine bear out, saying why one
// click away. Then, told of 4 free cores, it grows to 4, and a run with 4
// workers gives the heatmap of the run with fewer, bit for bit.
func TestPoolGrows(t *testing.T) {
	e := setup(t)
	tb := newTab(t, e)
	if _, err := chromedp.Call(tb.ctx, emulation.SetHardwareConcurrencyOverride, emulation.SetHardwareConcurrencyOverrideParams{HardwareConcurrency: 4}); err != nil {
		t.Fatal(err)
	}
	tb.open("?sw=0", 2)
	tb.wait("the pool's size", `patchlab.status().workers.why && patchlab.status().workers.ready === patchlab.status().workers.total`, 60*time.Second)
	st := eval[struct {
		Ready, Total int
		Why          string
	}](tb, `patchlab.status().workers`)
	t.Logf("on %d cores: %s", runtime.NumCPU(), st.Why)
	if !strings.Contains(st.Why, "a quick measurement found about") || !strings.HasPrefix(st.Why, fmt.Sprintf("%d worker", st.Total)) {
		t.Errorf("the pool says %q of its %d workers, want what it measured", st.Why, st.Total)
	}
	// Two free cores at most can be measured here (fewer under load), and a
	// worker pays from two thirds of a core on.
	if st.Total < 2 || st.Total > min(4, runtime.NumCPU()+1) {
		t.Errorf("the pool has %d workers on %d cores", st.Total, runtime.NumCPU())
	}
	if detail := eval[string](tb, `document.getElementById("model-detail").textContent`); !strings.Contains(detail, st.Why) {
		t.Errorf("the model's details say %q, not why it runs %d workers", detail, st.Total)
	}
	tb.runAndWait()
	before := readSweep(tb, "resid_post")

	eval[chromedp.Void](tb, `patchlab.growWith({t1: 40, together: [40, 40, 40, 40]})`)
	tb.wait("4 workers", `patchlab.status().workers.ready === 4`, 60*time.Second)
	if why := eval[string](tb, `patchlab.status().workers.why`); !strings.HasPrefix(why, "4 workers: a quick measurement found about 4.0 cores free") {
		t.Errorf("grown to 4, the pool says %q", why)
	}
	// Every worker past its warm-up (a memory request waits for it), and
	// rows slowed down, so that all four take part in the tiny model's
	// rows however busy the machine.
	if n := eval[int](tb, `patchlab.memory().then((m) => m.length)`); n != 4 {
		t.Fatalf("%d workers answered, want 4", n)
	}
	eval[chromedp.Void](tb, `patchlab.setRowDelay(250)`)
	eval[chromedp.Void](tb, `patchlab.run({fresh: true})`)
	tb.wait("the run to start", `patchlab.status().running`, 60*time.Second)
	tb.wait("the run to end", `!patchlab.status().running`, 60*time.Second)
	eval[chromedp.Void](tb, `patchlab.setRowDelay(0)`)
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.Contains(st, "with 4 workers") {
		t.Errorf("the run says %q", st)
	}
	started := eval[[]int](tb, `[...new Set(patchlab.timings().trace.filter((e) => e[2] === "started").map((e) => e[1]))].sort()`)
	if len(started) != 4 {
		t.Errorf("workers %v ran the texts, want all 4", started)
	}
	after := readSweep(tb, "resid_post")
	if len(after.Cells) != len(before.Cells) || len(before.Cells) == 0 {
		t.Fatalf("%d cells with 4 workers, %d before", len(after.Cells), len(before.Cells))
	}
	for i := range before.Cells {
		if !same(after.Cells[i], before.Cells[i]) {
			t.Fatalf("cell value %d is %v with 4 workers, %v before", i, after.Cells[i], before.Cells[i])
		}
	}
}

// same says whether two numbers of a sweep are the same bits (null: NaN).
func same(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Float64bits(*a) == math.Float64bits(*b)
}
