package main

import (
	"encoding/json"
	"image"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSweepATPGolden: -method atp writes every atp_* field of
// views-golden.json within 1e-4, and the top neurons with their exact
// changes, largest |estimate| first.
func TestSweepATPGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var views struct{ Cases []map[string]any }
	if err := json.Unmarshal(b, &views); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, c := range golden(t) {
		byName[c["name"].(string)] = c
	}
	for _, vc := range views.Cases {
		c := byName[vc["name"].(string)]
		t.Run(vc["name"].(string), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "atp.json")
			code, _, errs := patchlab(t, "sweep", "-model", tinyModel, "-clean", c["clean"].(string), "-corrupted", c["corrupted"].(string),
				"-clean-target", c["clean_target"].(string), "-corrupted-target", c["corrupted_target"].(string), "-method", "atp", "-neurons", "7", "-json", out)
			if code != 0 {
				t.Fatalf("status %d: %s", code, errs)
			}
			got := readJSON(t, out)
			n := 0
			for k, w := range vc {
				if strings.HasPrefix(k, "atp_") {
					n += closeTo(t, k, got[k], w, 1e-4)
				}
			}
			if n < 150 {
				t.Errorf("compared only %d values", n)
			}
			if _, ok := got["patch_resid_post"]; ok {
				t.Errorf("-method atp wrote the exact sweep too")
			}
			if zp, ok := got["atp_head_z_per_position"].([]any); !ok || len(zp) != 16 {
				t.Errorf("atp_head_z_per_position: %v", got["atp_head_z_per_position"])
			}
			ns, _ := got["atp_neurons"].([]any)
			if len(ns) != 7 {
				t.Fatalf("atp_neurons: %d, want 7", len(ns))
			}
			last := math.Inf(1)
			for i, x := range ns {
				n := x.(map[string]any)
				est, ok1 := n["estimate"].(float64)
				_, ok2 := n["exact"].(float64)
				if !ok1 || !ok2 || math.Abs(est) > last {
					t.Errorf("atp_neurons[%d] = %v: want estimate and exact, by |estimate|", i, n)
				}
				last = math.Abs(est)
			}
		})
	}
}

// TestSweepATPBoth: -method both writes the exact sweep and the estimates,
// a scatter figure per site, and prints the comparison.
func TestSweepATPBoth(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := patchlab(t, sweepArgs("-method", "both", "-sites", "resid_post,embed,z", "-json", filepath.Join(dir, "a.json"), "-png", filepath.Join(dir, "a.png"))...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	got := strings.Join(files(t, dir), " ")
	if want := "a-atp_resid_post.png a-atp_z.png a-resid_post.png a-scatter_resid_post.png a-scatter_z.png a-z.png a.json"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	f, err := os.Open(filepath.Join(dir, "a-scatter_z.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, format, err := image.DecodeConfig(f); err != nil || format != "png" {
		t.Errorf("scatter: %v %s", err, format)
	}
	rec := readJSON(t, filepath.Join(dir, "a.json"))
	for _, k := range []string{"patch_resid_post", "patch_head_z_all_positions", "atp_resid_post", "atp_neurons"} {
		if rec[k] == nil {
			t.Errorf("the record lacks %s", k)
		}
	}
	if !strings.Contains(out, "z: correlation 0.9") {
		t.Errorf("no comparison of z printed (its correlation is 0.98 on this model):\n%s", out)
	}
}

// TestSweepATPRefused: what the estimate cannot do is refused with exit 2.
func TestSweepATPRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-method", "atp", "-metric", "prob_diff"},
		{"-method", "both", "-direction", "noise"},
		{"-method", "exactly"},
	} {
		code, _, errs := patchlab(t, sweepArgs(args...)...)
		if code != 2 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: status %d, %q; want 2 and one line", args, code, errs)
		}
	}
}
