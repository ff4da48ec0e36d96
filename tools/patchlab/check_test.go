package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/selfcheck"
	"github.com/patchlab/patchlab/model/webfmt"
)

// TestCheckSkipsTiny: the tiny model is not GPT-2 small, so check says it
// skipped it (exit 0, or 1 with -require), in a converted directory's
// manifest too.
func TestCheckSkipsTiny(t *testing.T) {
	code, out, errs := patchlab(t, "check", "-model", tinyModel)
	if code != 0 || !strings.Contains(out, "skipped (not checked, so not passed): not GPT-2 small") {
		t.Errorf("check: status %d, %q, %q", code, out, errs)
	}
	code, _, errs = patchlab(t, "check", "-require", "-model", tinyModel)
	if code != 1 || !strings.Contains(errs, "skipped as not GPT-2 small, and -require") {
		t.Errorf("check -require: status %d, %q", code, errs)
	}
	dir := convertTiny(t)
	code, out, errs = patchlab(t, "check", "-model", dir)
	if code != 0 || strings.Count(out, "skipped") != 1 {
		t.Errorf("check DIR: status %d, %q, %q", code, out, errs)
	}
	if c := manifestCheck(t, dir); c == nil || c.Result != "skipped" || !strings.Contains(c.Detail, "not GPT-2 small") {
		t.Errorf("manifest check %+v", c)
	}
}

// TestCheckPassesAndFails runs check with the fixture's golden top-20 as
// the published table: on the converted tiny model and the float32
// checkpoint beside it, it passes; with one probability changed it fails
// with status 1, naming the token, and the manifest says so.
func TestCheckPassesAndFails(t *testing.T) {
	c, ok := findCase(golden(t), "michelle")
	if !ok {
		t.Fatal("no michelle case")
	}
	exp := selfcheck.Expectation{Source: "the fixture's golden values", Config: tinyConfig(t), Request: selfcheck.Published.Request, Tokens: 11}
	for i, r := range c["clean_top20"].([]any) {
		r := r.([]any)
		exp.Top = append(exp.Top, selfcheck.Row{Rank: i + 1, ID: int(r[0].(float64)), Token: r[1].(string), P: math.Round(r[2].(float64)*1e4) / 1e4})
	}
	defer func(p selfcheck.Expectation) { published = p }(published)
	published = exp

	dir := convertTiny(t)
	for _, name := range []string{"model.safetensors", "config.json"} { // as fetch leaves them
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := patchlab(t, "check", "-model", dir)
	if code != 0 || strings.Count(out, "passed: 41 checks") != 2 || !strings.Contains(out, "web format (13-bit codes)") || !strings.Contains(out, "float32 model") || !strings.Contains(out, "worst deviation") {
		t.Errorf("check: status %d, %q, %q", code, out, errs)
	}
	if mc := manifestCheck(t, dir); mc == nil || mc.Result != "passed" || mc.Checks != 41 {
		t.Errorf("manifest check %+v", mc)
	}

	published.Top[6].P += 0.01
	code, out, errs = patchlab(t, "check", "-model", dir)
	tok := exp.Top[6].Token
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, tok) || !strings.Contains(errs, "failed the check") {
		t.Errorf("perturbed: status %d, %q, %q", code, out, errs)
	}
	if mc := manifestCheck(t, dir); mc == nil || mc.Result != "failed" || !strings.Contains(mc.Detail, tok) {
		t.Errorf("manifest check %+v", mc)
	}
}

func findCase(cases []map[string]any, name string) (map[string]any, bool) {
	for _, c := range cases {
		if c["name"] == name {
			return c, true
		}
	}
	return nil, false
}

// convertTiny converts the tiny model at the width calibration chooses for it.
func convertTiny(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "web")
	if code, _, errs := patchlab(t, "convert", "-in", tinyModel, "-out", dir, "-bits", "13"); code != 0 {
		t.Fatalf("convert: %d %s", code, errs)
	}
	return dir
}

func tinyConfig(t *testing.T) gpt2.Config {
	t.Helper()
	m, err := loadModel(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	return m.Config
}

func manifestCheck(t *testing.T, dir string) *webfmt.Check {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, webfmt.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := webfmt.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return m.Check
}
