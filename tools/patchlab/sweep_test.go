package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSweepGolden sweeps every site of both golden cases on the tiny model
// and compares the JSON record with the fixture's golden values.
func TestSweepGolden(t *testing.T) {
	for _, c := range golden(t) {
		if c["error"] != nil {
			continue
		}
		t.Run(c["name"].(string), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			code, _, errs := patchlab(t, "sweep", "-model", tinyModel, "-clean", c["clean"].(string), "-corrupted", c["corrupted"].(string),
				"-clean-target", c["clean_target"].(string), "-corrupted-target", c["corrupted_target"].(string), "-sites", "all", "-json", out)
			if code != 0 {
				t.Fatalf("status %d: %s", code, errs)
			}
			got := readJSON(t, out)
			for _, k := range []string{"clean_ids", "corrupted_ids", "clean_target_id", "corrupted_target_id"} {
				if fmt.Sprint(got[k]) != fmt.Sprint(c[k]) {
					t.Errorf("%s = %v, want %v", k, got[k], c[k])
				}
			}
			for _, k := range []string{"clean_top20", "corrupted_top20"} {
				g, w := got[k].([]any), c[k].([]any)
				if len(g) != len(w) {
					t.Fatalf("%s: %d entries, want %d", k, len(g), len(w))
				}
				for i := range w {
					ge, we := g[i].([]any), w[i].([]any)
					if ge[0] != we[0] || math.Abs(ge[2].(float64)-we[2].(float64)) > 1e-5 {
						t.Errorf("%s[%d] = %v, want %v", k, i, ge, we)
					}
				}
			}
			n := 0
			for k, w := range c {
				if k == "clean_logit_diff" || k == "corrupted_logit_diff" || strings.HasPrefix(k, "patch_") {
					n += closeTo(t, k, got[k], w, 1e-4)
				}
			}
			if n < 150 {
				t.Errorf("compared only %d values", n)
			}
		})
	}
}

// closeTo compares nested JSON numbers within tol and returns how many it compared.
func closeTo(t *testing.T, name string, got, want any, tol float64) int {
	t.Helper()
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > tol {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
		return 1
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %d values", name, got, len(w))
			return 0
		}
		n := 0
		for i := range w {
			n += closeTo(t, fmt.Sprintf("%s[%d]", name, i), g[i], w[i], tol)
		}
		return n
	}
	t.Fatalf("%s: unexpected golden value %v", name, want)
	return 0
}

// TestSweepPrints checks the printed tokenizations and top-20 tables, and
// that without output flags the matrices are printed.
func TestSweepPrints(t *testing.T) {
	code, out, errs := patchlab(t, sweepArgs()...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	for _, want := range []string{
		"Michelle/ Jones/ was/ a/ top/-/not/ch/ student/./ Michelle",
		"Michelle/ Smith/ was/ a/ top/-/not/ch/ student/./ Michelle",
		"| Rank | Token index | Token ", "| 1    | 233         |",
		"resid_post (logit_diff)", "embed  -8.5353",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "sweep: cells 55/55") {
		t.Errorf("no final progress line on stderr: %q", errs)
	}
}

// TestSweepCSV checks the CSV against the JSON record of the same sweep.
func TestSweepCSV(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := patchlab(t, sweepArgs("-csv", filepath.Join(dir, "m.csv"), "-json", filepath.Join(dir, "m.json"))...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	f, err := os.Open(filepath.Join(dir, "m.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rec := readJSON(t, filepath.Join(dir, "m.json"))
	want := append([]any{rec["patch_embed"]}, rec["patch_resid_post"].([]any)...)
	if len(rows) != 1+len(want) || rows[0][0] != "layer" || rows[0][2] != "1  Jones→Smith" || len(rows[0]) != 12 {
		t.Fatalf("CSV shape: %d rows, header %q", len(rows), rows[0])
	}
	for r, row := range rows[1:] {
		label := fmt.Sprint(r - 1)
		if r == 0 {
			label = "embed"
		}
		if row[0] != label {
			t.Errorf("row %d label %q, want %q", r, row[0], label)
		}
		for c, s := range row[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.Abs(v-want[r].([]any)[c].(float64)) > 1e-6 {
				t.Errorf("row %d col %d: %q, want %v", r, c, s, want[r].([]any)[c])
			}
		}
	}
}

// TestSweepMetric checks a non-default metric: the JSON adds its matrices.
func TestSweepMetric(t *testing.T) {
	out := filepath.Join(t.TempDir(), "n.json")
	code, _, errs := patchlab(t, sweepArgs("-sites", "resid_post", "-metric", "normalized", "-json", out)...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	rec := readJSON(t, out)
	m := rec["matrices"].(map[string]any)["resid_post"].([]any)
	last := m[len(m)-1].([]any)
	if rec["metric"] != "normalized" || math.Abs(last[len(last)-1].(float64)-1) > 1e-6 || math.Abs(last[0].(float64)) > 1e-6 {
		t.Errorf("normalized resid_post last row = %v (want 0 … 1)", last)
	}
}

// TestSweepBits runs the model quantised in memory, as the web format
// would have it: close to, not equal to, F32.
func TestSweepBits(t *testing.T) {
	embed := func(args ...string) []any {
		out := filepath.Join(t.TempDir(), "m.json")
		code, _, errs := patchlab(t, sweepArgs(append(args, "-sites", "embed", "-json", out)...)...)
		if code != 0 {
			t.Fatalf("status %d: %s", code, errs)
		}
		return readJSON(t, out)["patch_embed"].([]any)
	}
	f32, q := embed(), embed("-bits", "14")
	same := true
	for i := range f32 {
		d := math.Abs(q[i].(float64) - f32[i].(float64))
		same = same && d == 0
		if d > 0.02 {
			t.Errorf("embed[%d]: %v with 14-bit codes, %v in float32", i, q[i], f32[i])
		}
	}
	if same {
		t.Error("-bits 14 changed nothing")
	}
	if code, _, errs := patchlab(t, sweepArgs("-bits", "8")...); code != 2 || !strings.Contains(errs, "-bits 8: want 9…16") {
		t.Errorf("-bits 8: status %d, %q", code, errs)
	}
}
