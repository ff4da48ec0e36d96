package sitetest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPortableBuild runs the page on the engine built without SIMD, the one
// a browser without WebAssembly SIMD loads (its kernels are hand-written
// WebAssembly too): the heatmap equals the CLI's. The site is served with
// wasmbuild.js choosing that build and the SIMD build gone.
func TestPortableBuild(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	// A copy of the site (hard links: the server serves no symbolic links).
	err := filepath.WalkDir(e.dist, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(e.dist, path)
		switch {
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		case strings.HasPrefix(rel, "wasmbuild.js"), strings.HasPrefix(rel, "patchlab-simd.wasm"):
			return nil
		}
		return os.Link(path, filepath.Join(dir, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wasmbuild.js"), []byte("export function wasmURL() { return \"patchlab.wasm\"; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := serve(dir)
	defer srv.Close()
	tb := newTab(t, e)
	tb.origin = srv.URL
	tb.open("?sw=0&workers=2", 2)
	tb.runAndWait()
	heatmapMatchesNative(t, e, tb, "the portable build")
}
