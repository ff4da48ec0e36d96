package webfmt

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestWriteCheck: the check's result lands in the manifest, which keeps
// everything else and still parses; an unknown result does not parse.
func TestWriteCheck(t *testing.T) {
	dir := t.TempDir()
	m := planned(t, tinyConfig, 100_000)
	m.Calibration = &Calibration{Tolerance: 0.005, Worst: 0.003}
	if err := writeManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	c := &Check{Result: "passed", Against: "the published numbers", Checks: 45, Detail: "worst deviation 1e-4"}
	if err := WriteCheck(dir, c); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	m.Check = c
	if !reflect.DeepEqual(got, m) {
		t.Errorf("manifest after WriteCheck: %+v, want %+v", got, m)
	}
	m.Check = &Check{Result: "ok"}
	if _, err := ParseManifest(marshal(t, m)); err == nil || !strings.Contains(err.Error(), `check result "ok"`) {
		t.Errorf("result ok: %v", err)
	}
}
