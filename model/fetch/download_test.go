package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
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
		rng := r.Header.Get("Range")
		if v := r.Header.Get("If-Range"); v != "" {
			rng += " if " + v
		}
		s.ranges = append(s.ranges, rng)
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

// serve answers Range and If-Range requests properly, with an ETag that is
// data's sha256.
func serve(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+sha(data)+`"`)
	http.ServeContent(w, r, "model.safetensors", time.Time{}, bytes.NewReader(data))
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
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
	w.Header().Set("ETag", `"`+sha(data)+`"`)
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
	_, err := Download(ctx, url, dest, nil)
	return dest, err
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
	if _, err := Download(context.Background(), s.URL, dest, func(d, n int64) { done, total = d, n }); err != nil {
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
	if len(reqs) != 2 || reqs[0] != "" || reqs[1] != "bytes="+strconv.Itoa(cut)+"- if "+`"`+sha(data)+`"` {
		t.Errorf("Range headers %q, want a plain GET then bytes=%d- if the ETag", reqs, cut)
	}
}

// TestDownloadResumesPartFile: a part file left by an earlier run is
// resumed when its validator is known, started over when not.
func TestDownloadResumesPartFile(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { serve(w, r, data) })
	for _, known := range []bool{true, false} {
		dest := filepath.Join(t.TempDir(), "model.safetensors")
		if err := os.WriteFile(dest+".part", data[:5000], 0o644); err != nil {
			t.Fatal(err)
		}
		if known {
			writeMeta(dest+".part", meta{URL: s.URL, ETag: `"` + sha(data) + `"`, Size: int64(len(data))})
		}
		before := len(s.requests())
		if _, err := Download(context.Background(), s.URL, dest, nil); err != nil {
			t.Fatal(err)
		}
		checkDownloaded(t, dest, data)
		want := ""
		if known {
			want = "bytes=5000- if " + `"` + sha(data) + `"`
		}
		if reqs := s.requests()[before:]; len(reqs) != 1 || reqs[0] != want {
			t.Errorf("validator known %v: requests %q, want one, %q", known, reqs, want)
		}
	}
}

func TestDownloadCompletePartFile(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { serve(w, r, data) })
	dest := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(dest+".part", data, 0o644); err != nil {
		t.Fatal(err)
	}
	writeMeta(dest+".part", meta{URL: s.URL, ETag: `"` + sha(data) + `"`, Size: int64(len(data))})
	if _, err := Download(context.Background(), s.URL, dest, nil); err != nil {
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
	_, err := Download(context.Background(), "http://patchlab.invalid/model.safetensors", dest, nil)
	if err == nil || !strings.Contains(err.Error(), "no network?") || strings.Contains(err.Error(), "giving up") {
		t.Fatalf("got %v, want a no-network error without retries", err)
	}
}

// changed is data with the same size and header but other tensor values,
// on both sides of byte cut, so that a splice of the two is neither.
func changed(data []byte, cut int) []byte {
	b := bytes.Clone(data)
	for i := cut - 2000; i < cut+2000; i++ {
		b[i] ^= 0x01
	}
	return b
}

// TestDownloadFileChangedBetweenAttempts: the file changes on the server
// (same size) after the first attempt drops. Whatever the server proves or
// fails to prove, the result is the new file whole, never a splice.
func TestDownloadFileChangedBetweenAttempts(t *testing.T) {
	old := fixture(t, "model.safetensors")
	const cut = 1 << 20
	now := changed(old, cut)
	t1, t2 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		first func(w http.ResponseWriter) // headers of the dropped response
		then  func(w http.ResponseWriter, r *http.Request)
		want  string // the second request's Range and If-Range
	}{
		{"ETag and If-Range",
			func(w http.ResponseWriter) { w.Header().Set("ETag", `"old"`) },
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", `"new"`)
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(now))
			}, `bytes=1048576- if "old"`},
		{"Last-Modified and If-Range",
			func(w http.ResponseWriter) { w.Header().Set("Last-Modified", t1.Format(http.TimeFormat)) },
			func(w http.ResponseWriter, r *http.Request) {
				http.ServeContent(w, r, "", t2, bytes.NewReader(now))
			}, "bytes=1048576- if " + t1.Format(http.TimeFormat)},
		{"a server ignoring If-Range",
			func(w http.ResponseWriter) { w.Header().Set("ETag", `"old"`) },
			func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("If-Range")
				w.Header().Set("ETag", `"new"`)
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(now))
			}, `bytes=1048576- if "old"`},
		{"no validator",
			func(w http.ResponseWriter) {},
			func(w http.ResponseWriter, r *http.Request) {
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(now))
			}, ""},
		{"a weak ETag",
			func(w http.ResponseWriter) { w.Header().Set("ETag", `W/"old"`) },
			func(w http.ResponseWriter, r *http.Request) {
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(now))
			}, ""},
	} {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "application/octet-stream")
			if n == 0 {
				c.first(w)
				w.Header().Set("Content-Length", strconv.Itoa(len(old)))
				w.WriteHeader(http.StatusOK)
				w.Write(old[:cut])
				conn, _, _ := http.NewResponseController(w).Hijack()
				conn.Close()
				return
			}
			c.then(w, r)
		})
		dest, err := download(t, s.URL)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got, _ := os.ReadFile(dest)
		if !bytes.Equal(got, now) {
			t.Errorf("%s: the file downloaded is not the server's current file (spliced: %v)", c.name, bytes.Equal(got[:cut], old[:cut]))
		}
		if reqs := s.requests(); len(reqs) < 2 || reqs[1] != c.want {
			t.Errorf("%s: requests %q, want the second %q", c.name, reqs, c.want)
		}
	}
}

// hub serves data as Hugging Face does a file in LFS: /resolve/ redirects
// to /cdn/ with X-Linked-Etag stating sha256 (whatever it is given).
func hub(t *testing.T, data []byte, linked string) *server {
	return newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/resolve/model.safetensors" {
			w.Header().Set("X-Linked-Etag", linked)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
			http.Redirect(w, r, "/cdn/model.safetensors", http.StatusFound)
			return
		}
		serve(w, r, data)
	})
}

// TestDownloadStatedSHA256: the sha256 in X-Linked-Etag is checked; a file
// that does not have it is deleted; a git sha1 there is not taken for one.
func TestDownloadStatedSHA256(t *testing.T) {
	data := fixture(t, "model.safetensors")
	dest := filepath.Join(t.TempDir(), "model.safetensors")
	res, err := Download(context.Background(), hub(t, data, `"`+sha(data)+`"`).URL+"/resolve/model.safetensors", dest, nil)
	if err != nil || res.Stated != sha(data) || res.SHA256 != sha(data) {
		t.Errorf("stated sha256: %+v, %v", res, err)
	}
	checkDownloaded(t, dest, data)

	wrong := sha([]byte("another file"))
	dest, err = download(t, hub(t, data, `"`+wrong+`"`).URL+"/resolve/model.safetensors")
	checkFailed(t, dest, err, "sha256 "+sha(data), "stated "+wrong)
	if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
		t.Errorf("the file with the wrong sha256 was kept as %s.part", dest)
	}

	dest = filepath.Join(t.TempDir(), "model.safetensors")
	res, err = Download(context.Background(), hub(t, data, `"9eb98c817f04b051b3bcca591bcd4e03cec88018"`).URL+"/resolve/model.safetensors", dest, nil)
	if err != nil || res.Stated != "" || res.SHA256 != sha(data) {
		t.Errorf("a git sha1 in X-Linked-Etag: %+v, %v", res, err)
	}
}

// TestDownloadEndlessBody: a body that goes on past the size the header
// implies (no Content-Length) is cut there and refused.
func TestDownloadEndlessBody(t *testing.T) {
	data := fixture(t, "model.safetensors")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
		zeros := make([]byte, 1<<16)
		for r.Context().Err() == nil {
			if _, err := w.Write(zeros); err != nil {
				return
			}
		}
	})
	dest, err := download(t, s.URL)
	checkFailed(t, dest, err, "more than the "+strconv.Itoa(len(data))+" bytes the file's header implies")
	if st, err := os.Stat(dest + ".part"); err == nil {
		t.Errorf("%s.part kept, %d bytes", dest, st.Size())
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestDownloadLyingContentLength: a Content-Length that is not the size
// the header implies, larger or smaller, is refused before the body is kept.
func TestDownloadLyingContentLength(t *testing.T) {
	data := fixture(t, "model.safetensors")
	for _, claim := range []int{len(data) + 1e9, len(data) / 2} {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(claim))
			w.Write(data[:min(claim, len(data))])
		})
		dest, err := download(t, s.URL)
		checkFailed(t, dest, err, "says the file is "+strconv.Itoa(claim)+" bytes", "implies "+strconv.Itoa(len(data)))
		if st, err := os.Stat(dest + ".part"); err == nil && st.Size() > 0 {
			t.Errorf("claim %d: %s.part holds %d bytes", claim, dest, st.Size())
		}
	}
}

// TestDownloadCapped: a header implying more than MaxCheckpointBytes is
// refused at once, whatever follows it.
func TestDownloadCapped(t *testing.T) {
	n := int64(MaxCheckpointBytes)/4 + 1
	header := fmt.Sprintf(`{"wte.weight":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, n, 4*n)
	var start [8]byte
	binary.LittleEndian.PutUint64(start[:], uint64(len(header)))
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(append(start[:], header...))
		w.Write(make([]byte, 1<<20))
	})
	dest, err := download(t, s.URL)
	checkFailed(t, dest, err, "implies "+strconv.FormatInt(8+int64(len(header))+4*n, 10)+" bytes, more than")
}
