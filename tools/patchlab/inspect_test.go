package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// inspectArgs inspects the Michelle example on the tiny model, plus extra flags.
func inspectArgs(extra ...string) []string {
	return append([]string{"inspect", "-model", tinyModel, "-clean", michelle, "-corrupted", michelleSmith,
		"-clean-target", " Jones", "-corrupted-target", " Smith"}, extra...)
}

// viewsGolden is the fixture's views-golden.json: its cases by name.
func viewsGolden(t *testing.T) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []map[string]any }
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, c := range g.Cases {
		out[c["name"].(string)] = c
	}
	return out
}

// TestInspectGolden inspects both golden cases on the tiny model and
// compares the JSON's views with views-golden.json: attention within 1e-6,
// the rest within 1e-4, token ids exactly.
func TestInspectGolden(t *testing.T) {
	views := viewsGolden(t)
	for _, c := range golden(t) {
		want, ok := views[c["name"].(string)]
		if !ok {
			continue
		}
		t.Run(c["name"].(string), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "v.json")
			code, _, errs := patchlab(t, "inspect", "-model", tinyModel, "-clean", c["clean"].(string), "-corrupted", c["corrupted"].(string),
				"-clean-target", c["clean_target"].(string), "-corrupted-target", c["corrupted_target"].(string), "-json", out)
			if code != 0 {
				t.Fatalf("status %d: %s", code, errs)
			}
			got := readJSON(t, out)
			for _, k := range []string{"clean_ids", "corrupted_ids", "clean_logit_diff"} {
				if _, ok := got[k]; !ok {
					t.Errorf("the JSON lacks %s", k)
				}
			}
			n := 0
			for _, run := range []string{"clean", "corrupted"} {
				n += closeTo(t, "attn_pattern_"+run, got["attn_pattern_"+run], want["attn_pattern_"+run], 1e-6)
				n += closeTo(t, "logit_lens_"+run, got["logit_lens_"+run], want["logit_lens_"+run], 1e-4)
				n += closeTo(t, "logit_lens_top1_"+run, got["logit_lens_top1_"+run], want["logit_lens_top1_"+run], 0)
				g, w := got["dla_"+run].(map[string]any), want["dla_"+run].(map[string]any)
				if len(g) != len(w) {
					t.Errorf("dla_%s has fields %v, want %v", run, keys(g), keys(w))
				}
				for k := range w {
					n += closeTo(t, "dla_"+run+"."+k, g[k], w[k], 1e-4)
				}
			}
			if n < 2*(4*4*11*11+5*11*2+4*4+3*4+3) {
				t.Errorf("compared only %d values", n)
			}
		})
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestInspectPrints checks the printed attribution table and lens, and that
// the parts printed add up to the total printed.
func TestInspectPrints(t *testing.T) {
	code, out, errs := patchlab(t, inspectArgs()...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	for _, want := range []string{
		"Direct logit attribution of logit(\" Smith\") − logit(\" Jones\") at the last position:",
		"total (the run's metric)    -8.2942    -8.5353",
		"Logit lens, corrupted run: the top-1 token of each cell:",
		`embed "Michelle" " Smith"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "top-1 tokens 110/110") {
		t.Errorf("no final progress line on stderr: %q", errs)
	}
}

// TestInspectCSV checks the CSV files against the JSON of the same run.
func TestInspectCSV(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := patchlab(t, inspectArgs("-csv", filepath.Join(dir, "v.csv"), "-json", filepath.Join(dir, "v.json"))...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	want := "v-attn_pattern_clean.csv v-attn_pattern_corrupted.csv v-dla.csv v-dla_heads_clean.csv v-dla_heads_corrupted.csv " +
		"v-logit_lens_clean.csv v-logit_lens_corrupted.csv v-logit_lens_top1_clean.csv v-logit_lens_top1_corrupted.csv v.json"
	if got := strings.Join(files(t, dir), " "); got != want {
		t.Fatalf("files %q, want %q", got, want)
	}
	rec := readJSON(t, filepath.Join(dir, "v.json"))
	read := func(name string) [][]string {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	lens := read("v-logit_lens_corrupted.csv")
	wantLens := rec["logit_lens_corrupted"].([]any)
	if len(lens) != 1+len(wantLens) || lens[1][0] != "embed" || lens[0][2] != "1  Smith" {
		t.Fatalf("lens CSV shape: %d rows, header %q", len(lens), lens[0])
	}
	for r, row := range lens[1:] {
		for c, s := range row[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if w := wantLens[r].([]any)[c].(float64); err != nil || math.Abs(v-w) > 1e-6 {
				t.Errorf("lens row %d col %d: %q, want %v", r, c, s, w)
			}
		}
	}
	dla := read("v-dla.csv")
	last := dla[len(dla)-1]
	total, _ := strconv.ParseFloat(last[2], 64)
	if last[0] != "total (the run's metric)" || math.Abs(total-rec["corrupted_logit_diff"].(float64)) > 1e-6 {
		t.Errorf("DLA CSV last row %q, want the corrupted run's metric %v", last, rec["corrupted_logit_diff"])
	}
	top := read("v-logit_lens_top1_clean.csv")
	if top[1][1] != "Michelle" || top[1][2] != " Jones" {
		t.Errorf("top-1 CSV embed row %q: the embedding's top token should be the token itself", top[1])
	}
	attn := read("v-attn_pattern_clean.csv")
	if len(attn) != 1+4*4*11 || attn[1][0] != "L0.H0 0 Michelle" || attn[1][1] != "1" || attn[1][2] != "0" {
		t.Errorf("attention CSV: %d rows, first %q", len(attn), attn[1])
	}
}

// TestInspectFigures writes every figure in the three formats.
func TestInspectFigures(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := patchlab(t, inspectArgs("-png", filepath.Join(dir, "f.png"), "-svg", filepath.Join(dir, "f.svg"), "-pdf", filepath.Join(dir, "f.pdf"))...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	names := files(t, dir)
	for _, run := range []string{"clean", "corrupted"} {
		for _, fig := range []string{"dla_" + run, "logit_lens_" + run, "attn_pattern_" + run + "-L0", "attn_pattern_" + run + "-L3"} {
			for _, ext := range []string{"png", "svg", "pdf"} {
				if name := "f-" + fig + "." + ext; !slices.Contains(names, name) {
					t.Errorf("no %s among %v", name, names)
				}
			}
		}
	}
	if len(names) != 3*2*(2+4) {
		t.Errorf("%d files, want %d: %v", len(names), 3*2*(2+4), names)
	}
	b, err := os.ReadFile(filepath.Join(dir, "f-logit_lens_clean.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Marines") { // a top-1 token of the clean lens, printed in its cell
		t.Errorf("the lens SVG lacks its top-1 tokens")
	}
}

// TestInspectInput: missing flags are the user's to fix.
func TestInspectInput(t *testing.T) {
	code, _, errs := patchlab(t, "inspect", "-model", tinyModel, "-clean", michelle)
	if code != 2 || !strings.Contains(errs, "missing -corrupted, -clean-target, -corrupted-target: inspect needs") {
		t.Errorf("status %d, %q", code, errs)
	}
}
