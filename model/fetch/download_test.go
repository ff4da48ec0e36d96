package fetch

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchlab/patchlab/model/safetensors"
)

// fixtures is where CI keeps the shared fixtures, beside the checkout.
const fixtures = "../../../shared/fixtures/tiny-gpt2/"

func TestMain(m *testing.M) {
	retryDelay, stallTimeout = time.Millisecond, 2*time.Second
	os.Exit(m.Run())
}

func fixture(t testing.TB, name string) []byte {
	data, err := os.ReadFile(fixtures + name)
	if err != nil {
		t.Fatalf("%v (the shared fixtures must sit beside the work tree)", err)
	}
	return data
}

// server serves through handle, which is given the number of the request
// (from 0), and records each request's Range header.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
}

func newServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.ranges)
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		handle(w, r, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.ranges...)
}

// serve answers Range requests properly.
func serve(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "model.safetensors", time.Time{}, bytes.NewReader(data))
}

// serveWhole ignores Range and sends the whole file with status 200.
func serveWhole(w http.ResponseWriter, data []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// drop announces the whole file, sends its first n bytes and closes the
// connection.
func drop(t *testing.T, w http.ResponseWriter, data []byte, n int) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data[:n])
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

// download runs Download with a deadline and returns its error and the
// downloaded file's path.
func download(t *testing.T, url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dest := filepath.Join(t.TempDir(), "model.safetensors")
	return dest, Download(ctx, url, dest, nil)
}

func checkDownloaded(t *testing.T, dest string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("downloaded %d bytes that differ from the %d served", len(got), len(want))
	}
	if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
		t.Errorf("%s.part left behind", dest)
	}
}

func checkFailed(t *testing.T, dest string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed download", dest)
	}
}

func TestDownload(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { serve(w, r, data) })
	dest := filepath.Join(t.TempDir(), "model.safetensors")
	var done, total int64
	if err := Download(context.Background(), s.URL, dest, func(d, n int64) { done, total = d, n }); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, data)
	if done != int64(len(data)) || total != int64(len(data)) {
		t.Errorf("progress ended at %d of %d, want %d of %d", done, total, len(data), len(data))
	}
}

func TestDownloadResumesDroppedConnection(t *testing.T) {
	data := fixture(t, "model.safetensors")
	const cut = 1 << 20
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			drop(t, w, data, cut)
			return
		}
		serve(w, r, data)
	})
	dest, err := download(t, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, data)
	reqs := s.requests()
	if len(reqs) != 2 || reqs[0] != "" || reqs[1] != "bytes="+strconv.Itoa(cut)+"-" {
		t.Errorf("Range headers %q, want a plain GET then bytes=%d-", reqs, cut)
	}
}

func TestDownloadResumesPartFile(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { serve(w, r, data) })
	dest := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(dest+".part", data[:5000], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Download(context.Background(), s.URL, dest, nil); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, data)
	if reqs := s.requests(); len(reqs) != 1 || reqs[0] != "bytes=5000-" {
		t.Errorf("Range headers %q, want one request for bytes=5000-", reqs)
	}
}

func TestDownloadCompletePartFile(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { serve(w, r, data) })
	dest := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(dest+".part", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Download(context.Background(), s.URL, dest, nil); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, data)
	if reqs := s.requests(); len(reqs) != 1 { // answered 416 Range Not Satisfiable
		t.Errorf("Range headers %q, want one request", reqs)
	}
}

func TestDownloadServerIgnoringRange(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			drop(t, w, data, 1<<20)
			return
		}
		serveWhole(w, data)
	})
	dest, err := download(t, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, data)
	if reqs := s.requests(); len(reqs) != 2 || reqs[1] == "" {
		t.Errorf("Range headers %q, want a plain GET then a range", reqs)
	}
}

func TestDownloadWrongContentRangeStartsAgain(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			drop(t, w, data, 1<<20)
		case 1: // a range, but not the one asked for
			w.Header().Set("Content-Range", "bytes 0-99/"+strconv.Itoa(len(data)))
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:100])
		default:
			serve(w, r, data)
		}
	})
	dest, err := download(t, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, data)
	if reqs := s.requests(); len(reqs) != 3 || reqs[2] != "" {
		t.Errorf("Range headers %q, want the third request from byte 0", reqs)
	}
}

func TestDownloadStalledConnection(t *testing.T) {
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 100 * time.Millisecond
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:1000])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // until the client gives up
			return
		}
		serve(w, r, data)
	})
	dest, err := download(t, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dest, data)
}

func TestDownload404(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { http.NotFound(w, r) })
	dest, err := download(t, s.URL+"/gpt2/model.safetensors")
	checkFailed(t, dest, err, s.URL+"/gpt2/model.safetensors", "404 Not Found")
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests for a 404, want 1", n)
	}
}

func TestDownloadHTMLPage(t *testing.T) {
	page := "<!DOCTYPE html><html><body>Sign in to continue</body></html>"
	for _, contentType := range []string{"text/html; charset=utf-8", "application/octet-stream"} {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", contentType)
			w.Write([]byte(page))
		})
		dest, err := download(t, s.URL)
		want := "HTML page"
		if !strings.HasPrefix(contentType, "text/html") {
			want = "does not start like a safetensors file"
		}
		checkFailed(t, dest, err, s.URL, want)
		if n := len(s.requests()); n != 1 {
			t.Errorf("%s: %d requests, want 1", contentType, n)
		}
	}
}

func TestDownloadGivesUp(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	dest, err := download(t, s.URL)
	checkFailed(t, dest, err, s.URL, "503", "giving up")
	if n := len(s.requests()); n != maxRetries+1 {
		t.Errorf("%d requests, want %d", n, maxRetries+1)
	}
}

func TestDownloadNotGPT2(t *testing.T) {
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.NamedTensor{{Name: "weight", DType: "F32", Shape: []int{2}, Data: make([]byte, 8)}})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { serve(w, r, buf.Bytes()) })
	dest, err := download(t, s.URL)
	checkFailed(t, dest, err, s.URL, "wte.weight")
	if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
		t.Errorf("the wrong file was kept as %s.part", dest)
	}
}

// TestDownloadNoSuchHost: a host that does not resolve (as on a machine
// without network) fails at once instead of retrying.
func TestDownloadNoSuchHost(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "model.safetensors")
	err := Download(context.Background(), "http://patchlab.invalid/model.safetensors", dest, nil)
	if err == nil || !strings.Contains(err.Error(), "no network?") || strings.Contains(err.Error(), "giving up") {
		t.Fatalf("got %v, want a no-network error without retries", err)
	}
}
