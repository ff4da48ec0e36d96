package main

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/fixture"
)

// TestATPGolden runs every views-golden case through the engine's
// attribution-patching calls as the worker does (Start, ATP as JSON) and
// compares every atp_* field with the oracle within 1e-4; the per-site
// values are the same numbers; the neurons come back with exact changes;
// the top cells are the largest |estimate| and their rows are listed.
func TestATPGolden(t *testing.T) {
	e := tinyEngine(t)
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	for name, vg := range readViewsGolden(t) {
		g, _ := fixture.Find(cases, name)
		req := analysis.Request{Clean: g.Clean, Corrupted: g.Corrupted, CleanTarget: g.CleanTarget, CorruptedTarget: g.CorruptedTarget}
		if _, err := e.Start(req); err != nil {
			t.Fatal(err)
		}
		r, err := e.ATP(req, 8)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r) // as the page receives it
		var got struct {
			Metric  string
			Sites   map[string]ATPSite
			Fields  map[string]json.RawMessage
			Neurons []map[string]any
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		n := 0
		for k, raw := range vg {
			if !strings.HasPrefix(k, "atp_") {
				continue
			}
			var want, have any
			json.Unmarshal(raw, &want)
			json.Unmarshal(got.Fields[k], &have)
			w, h := flat(want), flat(have)
			if len(w) == 0 || len(w) != len(h) {
				t.Fatalf("%s %s: %d values, want %d", name, k, len(h), len(w))
			}
			for i := range w {
				if math.Abs(w[i]-h[i]) > 1e-4 {
					t.Errorf("%s %s[%d] = %.6g, want %.6g", name, k, i, h[i], w[i])
				}
			}
			n += len(w)
		}
		if n < 150 || got.Metric != "logit_diff" {
			t.Errorf("%s: compared %d values, metric %q", name, n, got.Metric)
		}
		var rp []float64
		rs := got.Sites["resid_post"]
		var mx [][]float64
		json.Unmarshal(got.Fields["atp_resid_post"], &mx)
		for _, row := range mx {
			rp = append(rp, row...)
		}
		if rs.Rows != 4 || rs.Cols != len(g.CleanIDs) || !equal(rs.Values, rp) {
			t.Errorf("%s: sites.resid_post %d×%d is not atp_resid_post", name, rs.Rows, rs.Cols)
		}
		if len(got.Neurons) != 8 || got.Neurons[0]["exact"] != nil {
			t.Errorf("%s: neurons %v: want 8 without exact values", name, got.Neurons)
		}

		ns, err := e.ATPNeurons(context.Background(), req, 8)
		if err != nil {
			t.Fatal(err)
		}
		for i, nr := range ns {
			if nr.Exact == nil || math.IsNaN(*nr.Exact) || nr.Estimate != got.Neurons[i]["estimate"].(float64) {
				t.Errorf("%s neuron %d: %+v", name, i, nr)
			}
		}

		zp := got.Sites["z_per_position"]
		top, err := e.ATPTop(req, "z_per_position", 5)
		if err != nil {
			t.Fatal(err)
		}
		abs := make([]float64, len(zp.Values))
		for i, v := range zp.Values {
			abs[i] = math.Abs(v)
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(abs)))
		rows := map[int]bool{}
		for i, c := range top.Cells {
			if c.Estimate != zp.Values[c.Row*zp.Cols+c.Col] || math.Abs(c.Estimate) != abs[i] {
				t.Errorf("%s top cell %d: %+v, want |estimate| %g", name, i, c, abs[i])
			}
			rows[c.Row] = true
		}
		if len(top.Cells) != 5 || len(top.Rows) != len(rows) || !sort.IntsAreSorted(top.Rows) {
			t.Errorf("%s: top %+v", name, top)
		}
		for _, r := range top.Rows {
			if !rows[r] {
				t.Errorf("%s: row %d holds no top cell", name, r)
			}
		}
	}
}

// TestATPErrors: before a start, for other texts (cancelled) and an
// unknown site, the calls fail with a message.
func TestATPErrors(t *testing.T) {
	e := tinyEngine(t)
	if _, err := e.ATP(michelle, 5); err == nil {
		t.Error("ATP before Start succeeded")
	}
	if _, err := e.Start(michelle); err != nil {
		t.Fatal(err)
	}
	other := michelle
	other.Clean = "Michelle Brown was a top-notch student. Michelle"
	if _, err := e.ATP(other, 5); err == nil || Classify(err, KindInternal).Kind != KindCancelled {
		t.Errorf("ATP of other texts: %v", err)
	}
	if _, err := e.ATPTop(michelle, "nowhere", 3); err == nil {
		t.Error("ATPTop of an unknown site succeeded")
	}
}

func flat(v any) []float64 {
	switch x := v.(type) {
	case float64:
		return []float64{x}
	case []any:
		var out []float64
		for _, y := range x {
			out = append(out, flat(y)...)
		}
		return out
	}
	return nil
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
