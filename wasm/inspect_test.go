package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/inspect"
)

// viewsGolden is one case of views-golden.json, one run's fields picked by name.
type viewsGolden map[string]json.RawMessage

func readViewsGolden(t *testing.T) map[string]viewsGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tiny, "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vg struct{ Cases []viewsGolden }
	if err := json.Unmarshal(b, &vg); err != nil {
		t.Fatal(err)
	}
	out := map[string]viewsGolden{}
	for _, c := range vg.Cases {
		var name string
		json.Unmarshal(c["name"], &name)
		out[name] = c
	}
	return out
}

func (v viewsGolden) field(t *testing.T, name string, into any) {
	t.Helper()
	if err := json.Unmarshal(v[name], into); err != nil {
		t.Fatalf("views-golden.json %s: %v", name, err)
	}
}

// TestInspectGolden runs every views-golden case through the engine as the
// worker does (Start, then Inspect and LensTop1 of each run, the patterns
// packed for the page and back) and compares with the oracle: attention
// within 1e-6, lens and attribution within 1e-4, the top-1 tokens exactly
// and decoded as the tokenizer decodes them.
func TestInspectGolden(t *testing.T) {
	e := tinyEngine(t)
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	tok := bpe.New()
	for name, vg := range readViewsGolden(t) {
		g, ok := fixture.Find(cases, name)
		if !ok {
			t.Fatalf("no golden case %q", name)
		}
		req := analysis.Request{Clean: g.Clean, Corrupted: g.Corrupted, CleanTarget: g.CleanTarget, CorruptedTarget: g.CorruptedTarget}
		if _, err := e.Start(req); err != nil {
			t.Fatal(err)
		}
		for _, run := range []string{"clean", "corrupted"} {
			what := name + " " + run
			v, packed, err := e.Inspect(req, run)
			if err != nil {
				t.Fatal(err)
			}
			if v.Run != run || v.Layers != 4 || v.Heads != 4 || v.T != len(g.CleanIDs) {
				t.Fatalf("%s: %+v", what, v)
			}
			attn, err := DecodeAttention(packed, v.Layers, v.Heads, v.T)
			if err != nil {
				t.Fatal(err)
			}
			var wantAttn [][][][]float64
			vg.field(t, "attn_pattern_"+run, &wantAttn)
			var worstAttn float64
			for l := range wantAttn {
				for h := range wantAttn[l] {
					for q := range wantAttn[l][h] {
						for k, want := range wantAttn[l][h][q] {
							worstAttn = math.Max(worstAttn, math.Abs(float64(attn[l][h][q][k])-want))
						}
					}
				}
			}
			if len(wantAttn) != v.Layers || worstAttn > 1e-6 {
				t.Errorf("%s attention: off by %.3g", what, worstAttn)
			}

			var wantLens [][]float64
			vg.field(t, "logit_lens_"+run, &wantLens)
			if w := worstOf(v.Lens, wantLens); w > 1e-4 {
				t.Errorf("%s logit lens: off by %.3g", what, w)
			}
			var wantDLA inspect.DLA
			vg.field(t, "dla_"+run, &wantDLA)
			d := v.DLA
			scalars := [][]float64{{d.Embed, d.LNFinalBias, d.Total}}
			wantScalars := [][]float64{{wantDLA.Embed, wantDLA.LNFinalBias, wantDLA.Total}}
			for part, pair := range map[string][2][][]float64{
				"scalars": {scalars, wantScalars}, "heads": {d.Heads, wantDLA.Heads},
				"attn_out": {{d.AttnOut}, {wantDLA.AttnOut}}, "mlp_out": {{d.MLPOut}, {wantDLA.MLPOut}}, "attn_bias": {{d.AttnBias}, {wantDLA.AttnBias}},
			} {
				if w := worstOf(pair[0], pair[1]); w > 1e-4 {
					t.Errorf("%s DLA %s: off by %.3g", what, part, w)
				}
			}

			var wantTop [][]int
			vg.field(t, "logit_lens_top1_"+run, &wantTop)
			for r := range wantTop {
				row, err := e.LensTop1(req, run, r)
				if err != nil {
					t.Fatal(err)
				}
				if row.Row != r || fmt.Sprint(row.IDs) != fmt.Sprint(wantTop[r]) {
					t.Errorf("%s lens top-1 row %d: %v, want %v", what, r, row.IDs, wantTop[r])
				}
				for i, id := range wantTop[r] {
					if row.Tokens[i] != tok.DecodeToken(id) {
						t.Errorf("%s lens top-1 row %d position %d: text %q, want %q", what, r, i, row.Tokens[i], tok.DecodeToken(id))
					}
				}
			}
		}
	}
}

// worstOf is the largest |got − want| of two matrices, +Inf when their shapes differ.
func worstOf(got, want [][]float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	w := 0.0
	for r := range want {
		if len(got[r]) != len(want[r]) {
			return math.Inf(1)
		}
		for c := range want[r] {
			w = math.Max(w, math.Abs(got[r][c]-want[r][c]))
		}
	}
	return w
}

// TestInspectErrors: the calls fail with a message, not a panic, before a
// start, for an unknown run and for a lens row outside the lens.
func TestInspectErrors(t *testing.T) {
	e := tinyEngine(t)
	if _, _, err := e.Inspect(michelle, "clean"); err == nil {
		t.Error("Inspect before Start succeeded")
	}
	if _, err := e.Start(michelle); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Inspect(michelle, "patched"); err == nil {
		t.Error("Inspect of an unknown run succeeded")
	} else if k := Classify(err, KindInternal).Kind; k != KindInternal {
		t.Errorf("an unknown run is of kind %q", k)
	}
	for _, r := range []int{-1, 5} {
		if _, err := e.LensTop1(michelle, "clean", r); err == nil {
			t.Errorf("LensTop1 row %d of a 5-row lens succeeded", r)
		}
	}
	// Other texts than those started: cancelled, never the started texts' views.
	other := michelle
	other.Clean = "Michelle Brown was a top-notch student. Michelle"
	for _, err := range []error{func() error { _, _, err := e.Inspect(other, "clean"); return err }(), func() error { _, err := e.LensTop1(other, "clean", 0); return err }()} {
		if err == nil || Classify(err, KindInternal).Kind != KindCancelled {
			t.Errorf("a view of other texts than those started: %v", err)
		}
	}
	if _, err := DecodeAttention(make([]byte, 12), 1, 1, 2); err == nil {
		t.Error("DecodeAttention of 12 bytes as 1×1×2×2 succeeded")
	}
}
