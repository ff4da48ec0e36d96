package fetch

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckpoint downloads a checkpoint with the config.json beside it,
// then finds it kept: no second download.
func TestCheckpoint(t *testing.T) {
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
	dir := t.TempDir()
	got, err := Checkpoint(context.Background(), s.URL+"/tiny/model.safetensors", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Downloaded || got.Result.SHA256 != sha(data) || string(got.ConfigJSON) != string(config) {
		t.Errorf("first: %+v", got)
	}
	checkDownloaded(t, filepath.Join(dir, "model.safetensors"), data)
	requests := len(s.requests())
	got, err = Checkpoint(context.Background(), s.URL+"/tiny/model.safetensors", dir, nil)
	if err != nil || got.Downloaded || string(got.ConfigJSON) != string(config) {
		t.Errorf("second: %+v, %v", got, err)
	}
	if n := len(s.requests()); n != requests {
		t.Errorf("%d more requests the second time, want none", n-requests)
	}
}

// TestCheckpointWithoutConfig: a server answering config.json with an HTML
// page has none; nothing is saved as config.json.
func TestCheckpointWithoutConfig(t *testing.T) {
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
	got, err := Checkpoint(context.Background(), s.URL+"/model.safetensors", dir, nil)
	if err != nil || got.ConfigJSON != nil {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); !os.IsNotExist(err) {
		t.Errorf("an HTML page was saved as config.json")
	}
}
