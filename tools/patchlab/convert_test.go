package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/fetch"
)

// TestConvertAndLoad converts the tiny model to the web format and runs it
// through -model DIR and -model DIR/manifest.json.
func TestConvertAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "web")
	code, out, errs := patchlab(t, "convert", "-in", tinyModel, "-out", dir)
	if code != 0 || !strings.Contains(out, "manifest.json") {
		t.Fatalf("convert: status %d, %q, %q", code, out, errs)
	}
	if !strings.Contains(errs, "convert") {
		t.Errorf("no progress on stderr: %q", errs)
	}
	for _, m := range []string{dir, filepath.Join(dir, "manifest.json")} {
		code, out, errs := patchlab(t, "top", "-model", m, "-k", "1", michelle)
		// int8 weights: the top token is the F32 model's, the probability close.
		if code != 0 || !strings.Contains(out, "| 1    | 233         |") {
			t.Errorf("top -model %s: status %d, %q, %q", m, code, out, errs)
		}
	}
}

// TestFetch fetches the tiny model from a local server (with its
// config.json beside it) and runs it from the output directory.
func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir(fixtures)))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "gpt2")
	code, out, errs := patchlab(t, "fetch", "-url", srv.URL+"/model.safetensors", "-out", dir)
	if code != 0 || !strings.Contains(out, "ready in "+dir) {
		t.Fatalf("fetch: status %d, %q, %q", code, out, errs)
	}
	// A file server states no sha256: said plainly.
	if !strings.Contains(out, "the server stated no sha256, so none could be checked") {
		t.Errorf("fetch does not say that no sha256 was checked: %q", out)
	}
	for _, stage := range []string{"download", "calibration (-bits auto): loading", "calibration: 9-bit codes", "convert"} {
		if !strings.Contains(errs, stage) {
			t.Errorf("no %s progress on stderr: %q", stage, errs)
		}
	}
	t.Setenv("PATCHLAB_WEIGHTS", dir)
	if code, out, errs := patchlab(t, "top", "-k", "1", michelle); code != 0 || !strings.Contains(out, "| 1    | 233         |") {
		t.Errorf("top with the fetched model: status %d, %q, %q", code, out, errs)
	}
	// Up to date (default URL): nothing is fetched, so no network is needed.
	if code, out, errs := patchlab(t, "fetch", "-out", dir); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("second fetch: status %d, %q, %q", code, out, errs)
	}
	// Another width: converted again from the checkpoint kept (here made
	// to look like the default URL's), not downloaded.
	if err := os.WriteFile(filepath.Join(dir, "source-url.txt"), []byte(fetch.DefaultURL), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := patchlab(t, "fetch", "-out", dir, "-bits", "10"); code != 0 || strings.Contains(out, "up to date") {
		t.Errorf("fetch -bits 10: status %d, %q, %q", code, out, errs)
	}
	if code, out, errs := patchlab(t, "fetch", "-out", dir, "-bits", "10"); code != 0 || !strings.Contains(out, "up to date in "+dir+" (10-bit codes)") {
		t.Errorf("fetch -bits 10 again: status %d, %q, %q", code, out, errs)
	}
	// sweep -bits quantises float32 models only.
	if code, _, errs := patchlab(t, sweepArgs("-model", dir, "-bits", "12")...); code != 2 || !strings.Contains(errs, "in the web format already, with 10-bit codes") {
		t.Errorf("sweep -model web -bits 12: status %d, %q", code, errs)
	}
	// Another URL, or -force, does fetch: here from a server that now has nothing.
	srv.Config.Handler = http.NotFoundHandler()
	for _, args := range [][]string{{"-url", srv.URL + "/gpt2-medium/model.safetensors"}, {"-force", "-url", srv.URL + "/model.safetensors"}} {
		if code, out, errs := patchlab(t, append([]string{"fetch", "-out", dir}, args...)...); code == 0 || strings.Contains(out, "up to date") {
			t.Errorf("fetch %v: status %d, %q, %q; want a failed download", args, code, out, errs)
		}
	}
}
