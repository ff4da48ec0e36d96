package fetch

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchlab/patchlab/model/calib"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/webfmt"
)

func TestFetchAndConvert(t *testing.T) {
	data, config := fixture(t, "model.safetensors"), fixture(t, "config.json")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case "/tiny/model.safetensors":
			serve(w, r, data)
		case "/tiny/config.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(config)
		default:
			http.NotFound(w, r)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	stages := map[string]int64{}
	progress := func(stage string, done, total int64) {
		if done > total {
			t.Errorf("%s: %d of %d", stage, done, total)
		}
		stages[stage] = done
	}
	var trials []calib.Trial
	opts := Options{Bits: calib.Auto, Tolerance: calib.Tolerance, Progress: progress, Report: func(tr calib.Trial) { trials = append(trials, tr) }}
	if err := FetchAndConvert(ctx, s.URL+"/tiny/model.safetensors", dir, opts); err != nil {
		t.Fatal(err)
	}
	// The width calib.Auto chose is the last one it tried.
	// and the manifest says what it measured.
	if man := readManifest(t, dir); len(trials) == 0 || man.Bits != trials[len(trials)-1].Bits ||
		man.Calibration == nil || man.Calibration.Worst != trials[len(trials)-1].Worst || man.Calibration.Tolerance != calib.Tolerance {
		t.Errorf("manifest has %d-bit codes and calibration %+v after trials %v", man.Bits, man.Calibration, trials)
	}
	if stages["download"] != int64(len(data)) || stages["convert"] == 0 {
		t.Errorf("progress by stage %v", stages)
	}
	checkDownloaded(t, filepath.Join(dir, "model.safetensors"), data)
	m, err := webfmt.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := (gpt2.Config{Layers: 4, Heads: 4, Width: 64, Context: 64, Vocab: 50257}); m.Config != want {
		t.Errorf("config %+v, want %+v (n_head from config.json)", m.Config, want)
	}

	// Again, at a given width: the checkpoint kept is not downloaded a
	// second time.
	requests := len(s.requests())
	if err := FetchAndConvert(ctx, s.URL+"/tiny/model.safetensors", dir, Options{Bits: 10}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.requests()); n != requests {
		t.Errorf("%d more requests the second time, want none", n-requests)
	}
	if man := readManifest(t, dir); man.Bits != 10 || man.Calibration != nil {
		t.Errorf("manifest has %d-bit codes and calibration %+v, want 10 and none", man.Bits, man.Calibration)
	}
}

func readManifest(t *testing.T, dir string) *webfmt.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, webfmt.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := webfmt.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFetchAndConvertWithoutConfig(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path != "/model.safetensors" {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>no such page</html>"))
			return
		}
		serve(w, r, data)
	})
	dir := t.TempDir()
	if err := FetchAndConvert(context.Background(), s.URL+"/model.safetensors", dir, Options{Bits: webfmt.DefaultBits}); err != nil {
		t.Fatal(err)
	}
	m, err := webfmt.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Heads != 1 {
		t.Errorf("%d heads, want width/64 = 1", m.Heads)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); !os.IsNotExist(err) {
		t.Errorf("an HTML page was saved as config.json")
	}
}
