package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures live beside the checkout (../shared in CI).
const fixtures = "../../../shared/fixtures/tiny-gpt2"

var tinyModel = filepath.Join(fixtures, "model.safetensors")

const (
	michelle      = "Michelle Jones was a top-notch student. Michelle"
	michelleSmith = "Michelle Smith was a top-notch student. Michelle"
)

// patchlab runs a command line in process and returns its exit status and output.
func patchlab(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return patchlabCtx(t, context.Background(), args...)
}

func patchlabCtx(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// sweepArgs is a sweep of the Michelle example on the tiny model, plus extra flags.
func sweepArgs(extra ...string) []string {
	return append([]string{"sweep", "-model", tinyModel, "-clean", michelle, "-corrupted", michelleSmith,
		"-clean-target", " Jones", "-corrupted-target", " Smith"}, extra...)
}

// golden is the fixture's golden.json: its cases as generic JSON.
func golden(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []map[string]any }
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// files lists the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestHelp(t *testing.T) {
	code, out, _ := patchlab(t, "help")
	if code != 0 || !strings.Contains(out, "sweep") {
		t.Errorf("help: status %d, output %q", code, out)
	}
	for _, c := range commands {
		code, out, errs := patchlab(t, c.name, "-h")
		if code != 0 || !strings.Contains(out, "usage: patchlab "+c.name) || errs != "" {
			t.Errorf("%s -h: status %d, stdout %q, stderr %q", c.name, code, out, errs)
		}
	}
	if _, out, _ := patchlab(t, "bench", "-h"); strings.Contains(out, "-config") {
		t.Errorf("bench -h shows the hidden -config flag")
	}
}
