package sitetest

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/tools/serve/web"
)

// TestReloadFromCache opens the page in two workers from a server that
// counts the shard downloads, then opens it again. The first visit
// downloads each shard once (the first worker fills the cache, the second
// reads it there); the second visit downloads nothing, and the two workers
// share the reading: each shard is read from the cache and hashed once, by
// one of them (not again in the engine: webfmt.LoadHashed), and the other
// gets its bytes from it. Both visits give the same heatmap.
func TestReloadFromCache(t *testing.T) {
	e := setup(t)
	data, err := os.ReadFile(filepath.Join(e.dist, "weights", webfmt.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m webfmt.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, s := range m.Shards {
		total += s.Size
	}
	var mu sync.Mutex
	got := map[string]int{} // shard → downloads
	files := web.Handler(e.dist)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/weights/"); ok && name != webfmt.ManifestName {
			mu.Lock()
			got[name]++
			mu.Unlock()
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	downloads := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(got)
	}

	tb := newTab(t, e)
	tb.origin = srv.URL // an origin of its own: an empty cache
	type phases struct {
		Download    *float64
		CacheRead   *float64
		HashedBytes int64
		SharedBytes int64
	}
	visit := func(name string) ([]float64, []phases) {
		tb.open("?workers=2&sw=0", 2)
		ph := eval[[]phases](tb, `patchlab.status().workers.phases`)
		if len(ph) != 2 {
			t.Fatalf("%s: %d workers' phases, want 2", name, len(ph))
		}
		tb.runAndWait()
		return eval[[]float64](tb, `patchlab.heatmap().values`), ph
	}

	first, ph := visit("the first visit")
	for _, s := range m.Shards {
		if n := downloads()[s.File]; n != 1 {
			t.Errorf("the first visit downloaded %s %d times, want once", s.File, n)
		}
	}
	if ph[0].Download == nil || ph[1].Download != nil || ph[1].CacheRead == nil {
		t.Errorf("the first visit: the first worker should download, the second read the cache: %+v", ph)
	}

	before := downloads()
	again, ph := visit("the second visit")
	if after := downloads(); !maps.Equal(before, after) {
		t.Errorf("the second visit downloaded shards again: %v, then %v", before, after)
	}
	var hashed int64
	for i, p := range ph {
		if p.Download != nil || (p.CacheRead == nil) != (p.HashedBytes == 0) {
			t.Errorf("the second visit: worker %d did not read its part from the cache: %+v", i+1, p)
		}
		if p.HashedBytes+p.SharedBytes != total {
			t.Errorf("the second visit: worker %d hashed %d bytes and got %d from the other, want the model's %d", i+1, p.HashedBytes, p.SharedBytes, total)
		}
		hashed += p.HashedBytes
	}
	if hashed != total {
		t.Errorf("the second visit: the workers hashed %d bytes in all, want each shard once (%d)", hashed, total)
	}
	if len(first) == 0 || !slices.Equal(first, again) {
		t.Errorf("the heatmap changed on the second visit:\n%v\n%v", first, again)
	}
}
