package sitetest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// atpGolden is the attribution-patching part of a views-golden.json case.
type atpGolden map[string]json.RawMessage

// pageATP is what the attribution-patching view shows (patchlab.atp()).
type pageATP struct {
	Method       string                     `json:"method"`
	Fields       map[string]json.RawMessage `json:"fields"`
	Neurons      []map[string]any           `json:"neurons"`
	EstimateMs   float64                    `json:"estimateMs"`
	EngineSecs   float64                    `json:"engineSeconds"`
	Points       int                        `json:"points"`
	Corr         float64                    `json:"corr"`
	ScatterDrawn bool                       `json:"scatterDrawn"`
	Checked      []struct {
		Site     string  `json:"site"`
		Row      int     `json:"row"`
		Col      int     `json:"col"`
		Estimate float64 `json:"estimate"`
	} `json:"checked"`
}

func flatten(t *testing.T, raw json.RawMessage) []float64 {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var out []float64
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case float64:
			out = append(out, x)
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	return out
}

// TestATPView opens the attribution-patching view on the float32 fixture
// after a run: every atp_* field the page holds is views-golden.json's
// within 1e-4; "both" draws the scatter of the exact sweep's cells; "check
// the top k exactly" sweeps just the rows of the k cells of largest
// |estimate| (ranked here from the golden file) and those cells are the
// golden exact values; the neurons get exact values; the exports parse;
// the link carries the method. Screenshots of "both" at a laptop's and a
// phone's size are artifacts.
func TestATPView(t *testing.T) {
	e := setup(t)
	g := e.golden.find("michelle")
	b, err := os.ReadFile(filepath.Join(fixtures, "tiny-gpt2", "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vg struct{ Cases []atpGolden }
	if err := json.Unmarshal(b, &vg); err != nil {
		t.Fatal(err)
	}
	var want atpGolden
	for _, c := range vg.Cases {
		if string(c["name"]) == `"michelle"` {
			want = c
		}
	}
	tb := newTab(t, e)
	tb.open("?workers=2", 1)
	tb.do(chromedp.Click(chromedp.ID("weights-show")),
		chromedp.Click(chromedp.CSS(`input[name=precision][value=f32]`)),
		chromedp.SetValue(chromedp.ID("weights-url"), tb.origin+"/fixtures/tiny/model.safetensors"),
		chromedp.Click(chromedp.ID("weights-fetch")))
	tb.wait("float32 weights", `patchlab.status().ready && patchlab.status().info && !patchlab.status().info.quantized && patchlab.status().workers.ready >= 2`, 60*time.Second)
	tb.runAndWait()

	tb.do(chromedp.SetValue(chromedp.ID("look"), "atp"))
	eval[chromedp.Void](tb, `document.getElementById("look").dispatchEvent(new Event("change"))`)
	tb.do(chromedp.SetValue(chromedp.ID("atp-method"), "both"))
	eval[chromedp.Void](tb, `document.getElementById("atp-method").dispatchEvent(new Event("change"))`)
	tb.wait("the estimates and the scatter", `(() => { const a = patchlab.atp(); return a && a.scatterDrawn && a.points > 0; })()`, 60*time.Second)
	got := eval[pageATP](tb, `patchlab.atp()`)
	n := 0
	for k, raw := range want {
		if !strings.HasPrefix(k, "atp_") {
			continue
		}
		w, h := flatten(t, raw), flatten(t, got.Fields[k])
		if len(w) != len(h) {
			t.Fatalf("%s: %d values in the page, %d golden", k, len(h), len(w))
		}
		for i := range w {
			if math.Abs(w[i]-h[i]) > 1e-4 {
				t.Errorf("%s[%d]: page %.6g, golden %.6g", k, i, h[i], w[i])
			}
		}
		n += len(w)
	}
	if n < 100 {
		t.Errorf("compared only %d values", n)
	}
	// The scatter: every cell of resid_post and embed (5 rows × 11), drawn.
	if got.Points != 55 || math.IsNaN(got.Corr) {
		t.Errorf("scatter: %d points, correlation %v; want 55", got.Points, got.Corr)
	}
	inked := eval[int](tb, `(() => { const c = document.getElementById("atp-scatter"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 120 && d[i + 2] > 150) n++; return n; })()`)
	if inked < 100 {
		t.Errorf("the scatter canvas has %d blue pixels: not drawn", inked)
	}
	if !strings.Contains(eval[string](tb, `location.hash`), "method=both") || !strings.Contains(eval[string](tb, `location.hash`), "view=atp") {
		t.Errorf("the link does not carry the view and method: %s", eval[string](tb, `location.hash`))
	}
	t.Logf("estimates in the page (fixture, 11 tokens): %.0f ms from the ask, %.1f ms in the engine", got.EstimateMs, got.EngineSecs*1000)

	for _, size := range [][2]int64{{1280, 800}, {375, 812}} {
		tb.do(chromedp.EmulateViewport(size[0], size[1]))
		eval[chromedp.Void](tb, `new Promise((r) => { dispatchEvent(new Event("resize")); requestAnimationFrame(() => requestAnimationFrame(r)); })`)
		shot, err := chromedp.Run(tb.ctx, chromedp.Screenshot(chromedp.ID("look-atp")))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("patchlab-view-atp-both-%dx%d.png", size[0], size[1])
		t.Logf("screenshot %s", artifact(t, name, shot))
	}

	// Exports: a PNG, a CSV of every cell, JSON with the atp_* fields.
	if _, err := png.Decode(bytes.NewReader(tb.download("atp-export-png"))); err != nil {
		t.Errorf("the PNG export: %v", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(tb.download("atp-export-csv"))).ReadAll()
	if err != nil || len(rows) != 56 {
		t.Errorf("the CSV export: %d rows, %v", len(rows), err)
	}
	var js map[string]json.RawMessage
	if err := json.Unmarshal(tb.download("atp-export-json"), &js); err != nil || js["atp_resid_post"] == nil {
		t.Errorf("the JSON export: %v", err)
	}

	// The neurons' exact values, on request.
	tb.do(chromedp.Click(chromedp.ID("atp-neurons-exact")))
	tb.wait("the neurons' exact values", `(() => { const a = patchlab.atp(); return a.neurons && a.neurons.length > 0 && a.neurons.every((x) => typeof x.exact === "number"); })()`, 60*time.Second)
	if txt := eval[string](tb, `document.querySelector("#atp-neurons tbody").textContent`); strings.Contains(txt, "—") {
		t.Errorf("the neuron table lacks exact values: %q", txt)
	}

	// Check the top 3 of attn_out, which has not been swept (with the
	// estimate alone, choosing a site does not sweep it): only the rows of
	// its 3 largest |estimate| cells are swept, and give golden values.
	tb.do(chromedp.SetValue(chromedp.ID("atp-method"), "estimate"))
	eval[chromedp.Void](tb, `document.getElementById("atp-method").dispatchEvent(new Event("change"))`)
	tb.do(chromedp.SetValue(chromedp.ID("site"), "attn_out"))
	eval[chromedp.Void](tb, `document.getElementById("site").dispatchEvent(new Event("change"))`)
	if eval[bool](tb, `!!patchlab.sweep("attn_out")`) {
		t.Fatal("attn_out was swept on choosing it: the check below would prove nothing")
	}
	tb.do(chromedp.SetValue(chromedp.ID("atp-k"), "3"), chromedp.Click(chromedp.ID("atp-check")))
	tb.wait("the top cells' rows", `(() => { const s = patchlab.sweep("attn_out"); return !patchlab.status().running && s && s.done.some((d) => d); })()`, 60*time.Second)
	type cell struct {
		r, c int
		v    float64
	}
	var est []cell
	var mx [][]float64
	json.Unmarshal(want["atp_attn_out"], &mx)
	for r, row := range mx {
		for c, v := range row {
			est = append(est, cell{r, c, v})
		}
	}
	sort.SliceStable(est, func(a, b int) bool { return math.Abs(est[a].v) > math.Abs(est[b].v) })
	wantRows := map[int]bool{}
	for _, c := range est[:3] {
		wantRows[c.r] = true
	}
	sw := eval[struct {
		Cols  int       `json:"cols"`
		Done  []int     `json:"done"`
		Cells []float64 `json:"cells"`
	}](tb, `patchlab.sweep("attn_out")`)
	for r, d := range sw.Done {
		if (d == 1) != wantRows[r] {
			t.Errorf("attn_out row %d swept: %v, want %v (the rows of the top 3 cells are %v)", r, d == 1, wantRows[r], wantRows)
		}
	}
	for _, c := range est[:3] {
		i := 3 * (c.r*sw.Cols + c.c)
		if d := sw.Cells[i+1] - sw.Cells[i]; math.Abs(d-g.PatchAttnOut[c.r][c.c]) > 1e-3 {
			t.Errorf("attn_out (%d, %d) checked exactly: %.5g, golden %.5g", c.r, c.c, d, g.PatchAttnOut[c.r][c.c])
		}
	}
	if li := eval[string](tb, `document.getElementById("atp-checked").textContent`); strings.Contains(li, "computing") || strings.Count(eval[string](tb, `document.getElementById("atp-checked").innerHTML`), "<li") != 3 {
		t.Errorf("the checked cells' list: %q", li)
	}
}
