package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSweepNoisingGolden: -direction noise writes the noise_* fields of
// views-golden.json, within 1e-4.
func TestSweepNoisingGolden(t *testing.T) {
	views := viewsGolden(t)
	for _, c := range golden(t) {
		if c["error"] != nil {
			continue
		}
		want := views[c["name"].(string)]
		out := filepath.Join(t.TempDir(), "out.json")
		code, _, errs := patchlab(t, "sweep", "-model", tinyModel, "-clean", c["clean"].(string), "-corrupted", c["corrupted"].(string),
			"-clean-target", c["clean_target"].(string), "-corrupted-target", c["corrupted_target"].(string),
			"-sites", "resid_post,embed,attn_out,mlp_out,z", "-direction", "noise", "-json", out)
		if code != 0 {
			t.Fatalf("status %d: %s", code, errs)
		}
		got := readJSON(t, out)
		n := 0
		for k, w := range want {
			if strings.HasPrefix(k, "noise_") {
				n += closeTo(t, k, got[k], w, 1e-4)
			}
		}
		if n != 159 || got["patch_resid_post"] != nil || got["direction"] != "noise" {
			t.Errorf("%s: compared %d values; patch_resid_post %v, direction %v", c["name"], n, got["patch_resid_post"] != nil, got["direction"])
		}
	}
}

// TestSweepPairsGolden: a JSONL set of the two golden cases writes the mean
// of their golden matrices and their spread, with one record per pair.
func TestSweepPairsGolden(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	var cases []map[string]any
	for _, c := range golden(t) {
		b, _ := json.Marshal(map[string]any{"clean": c["clean"], "corrupted": c["corrupted"], "clean_target": c["clean_target"], "corrupted_target": c["corrupted_target"]})
		lines = append(lines, string(b))
		if c["error"] == nil {
			cases = append(cases, c)
		}
	}
	file := filepath.Join(dir, "set.jsonl")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "set.json")
	code, stdout, errs := patchlab(t, "sweep", "-model", tinyModel, "-pairs", file, "-sites", "resid_post,embed,attn_out,mlp_out,z", "-json", out, "-png", filepath.Join(dir, "set.png"))
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	if !strings.Contains(stdout, "pair 2 skipped (count_mismatch)") || !strings.Contains(stdout, "2 of 3 pairs ran") {
		t.Errorf("stdout: %s", stdout)
	}
	got := readJSON(t, out)
	n := 0
	for _, k := range []string{"patch_resid_post", "patch_embed", "patch_attn_out", "patch_mlp_out", "patch_head_z_all_positions", "clean_logit_diff", "corrupted_logit_diff"} {
		a, b := flatJSON(cases[0][k]), flatJSON(cases[1][k])
		mean, std := flatJSON(got[k]), flatJSON(got[k+"_std"])
		if len(a) == 0 || len(mean) != len(a) || len(std) != len(a) {
			t.Fatalf("%s: %d values, %d golden", k, len(mean), len(a))
		}
		for i := range a {
			if math.Abs(mean[i]-(a[i]+b[i])/2) > 1e-4 || math.Abs(std[i]-math.Abs(a[i]-b[i])/math.Sqrt2) > 1e-4 {
				t.Errorf("%s[%d] = %g ± %g, golden %g and %g", k, i, mean[i], std[i], a[i], b[i])
			}
			n++
		}
	}
	pairs := got["pairs"].([]any)
	if n != 161 || len(pairs) != 3 || got["n_pairs"] != 2.0 || got["pairs_source"] != file {
		t.Errorf("%d values, %d pair records, n_pairs %v", n, len(pairs), got["n_pairs"])
	}
	if p := pairs[2].(map[string]any); p["reason"] != "count_mismatch" || p["error"] == "" {
		t.Errorf("the skipped pair's record: %v", p)
	}
	if p := pairs[0].(map[string]any); math.Abs(p["clean_logit_diff"].(float64)-cases[0]["clean_logit_diff"].(float64)) > 1e-4 || p["matrices"] == nil {
		t.Errorf("the first pair's record: %v", p)
	}
	for _, f := range []string{"set-resid_post.png", "set-resid_post-std.png", "set-z.png", "set-z-std.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestSweepNoise: Gaussian-noise corruption gives the same numbers for the
// same seed and other numbers for another, and the JSON says how it was made.
func TestSweepNoise(t *testing.T) {
	run := func(seed string) map[string]any {
		out := filepath.Join(t.TempDir(), "n.json")
		code, _, errs := patchlab(t, "sweep", "-model", tinyModel, "-clean", michelle, "-clean-target", " Jones", "-corrupted-target", " Smith",
			"-corruption", "noise", "-noise-positions", "1", "-noise-seeds", "3", "-noise-scale", "2", "-seed", seed, "-sites", "resid_post", "-json", out)
		if code != 0 {
			t.Fatalf("status %d: %s", code, errs)
		}
		return readJSON(t, out)
	}
	a, b, c := run("4"), run("4"), run("5")
	if fmt.Sprint(a["patch_resid_post"]) != fmt.Sprint(b["patch_resid_post"]) || fmt.Sprint(a["patch_resid_post"]) == fmt.Sprint(c["patch_resid_post"]) {
		t.Error("the noise is not determined by its seed")
	}
	noise := a["noise"].(map[string]any)
	if noise["scale"] != 2.0 || noise["seed"] != 4.0 || noise["seeds"] != 3.0 || fmt.Sprint(noise["positions"]) != "[1]" || !(noise["sigma"].(float64) > 0) || a["n_runs"] != 3.0 || a["corruption"] != "noise" {
		t.Errorf("noise record %v, %v runs", noise, a["n_runs"])
	}
	// Column 0 is before the noise: each seed's cell there is its own
	// corrupted run, so the column's mean and spread are the baseline's.
	row := a["patch_resid_post"].([]any)[0].([]any)
	std := a["patch_resid_post_std"].([]any)[0].([]any)
	if math.Abs(row[0].(float64)-a["corrupted_logit_diff"].(float64)) > 1e-12 || math.Abs(std[0].(float64)-a["corrupted_logit_diff_std"].(float64)) > 1e-12 || std[0] == 0.0 {
		t.Errorf("row 0: %v ± %v", row, std)
	}
}

func TestSweepSetErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-pairs", "ioi:3", "-clean", "x"}, "leave out -clean"},
		{[]string{"-pairs", "ioi"}, "or a .jsonl file"},
		{[]string{"-pairs", "nowhere.jsonl"}, "want a .jsonl file"},
		{[]string{"-pairs", "ioi:0"}, "N ≥ 1"},
		{[]string{"-clean", "x", "-corruption", "noise", "-clean-target", " a", "-corrupted-target", " b"}, "either -noise-positions or -corrupted"},
		{[]string{"-clean", "x", "-corrupted", "y", "-clean-target", " a", "-corrupted-target", " b", "-noise-seeds", "3"}, "-noise-seeds needs -corruption noise"},
		{[]string{"-pairs", "ioi:3", "-direction", "sideways"}, "want denoise or noise"},
		{[]string{"-pairs", "ioi:3", "-corruption", "noise", "-noise-scale", "0"}, "want a number above 0"},
	} {
		code, _, errs := patchlab(t, append([]string{"sweep", "-model", tinyModel}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%q: status %d, %q (want %q)", tc.args, code, errs, tc.want)
		}
	}
}

func flatJSON(v any) []float64 {
	switch x := v.(type) {
	case float64:
		return []float64{x}
	case []any:
		var out []float64
		for _, e := range x {
			out = append(out, flatJSON(e)...)
		}
		return out
	}
	return nil
}
