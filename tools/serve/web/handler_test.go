package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func site(t testing.TB) string {
	dir := t.TempDir()
	files := map[string]string{
		"index.html":                         "<!doctype html><title>x</title>",
		"app.js":                             strings.Repeat("console.log('patchlab');\n", 200),
		"patchlab.wasm":                      "\x00asm\x01\x00\x00\x00" + strings.Repeat("\x00", 5000),
		"weights/manifest.json":              `{"format":"patchlab-int8"}`,
		"weights/shard-000-0123456789ab.bin": "int8 data",
		".secret":                            "no",
		"weights/.manifest-123.tmp":          "no",
		"sub/index.html":                     "sub",
		"style.css":                          "body{}",
		"weights/shard-001-0123456789ab.bin.gz.unlisted": "x",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func TestHandler(t *testing.T) {
	dir := site(t)
	h := Handler(dir)

	r := get(t, h, "/patchlab.wasm")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/wasm" || r.Header.Get("Content-Encoding") != "" {
		t.Errorf("wasm without gzip: %d %q %q", r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"))
	}

	// Compressed on the fly, then from the precompressed copy.
	r = get(t, h, "/app.js", "Accept-Encoding", "gzip, br")
	if r.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") || r.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("app.js: %v", r.Header)
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if !strings.HasPrefix(string(body), "console.log") {
		t.Errorf("app.js decompressed to %q", body[:20])
	}
	if err := gzipFile(filepath.Join(dir, "patchlab.wasm")); err != nil {
		t.Fatal(err)
	}
	r = get(t, h, "/patchlab.wasm", "Accept-Encoding", "gzip")
	zst, _ := os.Stat(filepath.Join(dir, "patchlab.wasm.gz"))
	body, _ = io.ReadAll(r.Body)
	if r.Header.Get("Content-Encoding") != "gzip" || int64(len(body)) != zst.Size() || r.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("precompressed wasm: %v (%d bytes, the .gz is %d)", r.Header, len(body), zst.Size())
	}

	// Revalidation.
	tag := r.Header.Get("ETag")
	if r.Header.Get("Cache-Control") != "no-cache" || tag == "" {
		t.Errorf("wasm caching: %q %q", r.Header.Get("Cache-Control"), tag)
	}
	if r = get(t, h, "/patchlab.wasm", "Accept-Encoding", "gzip", "If-None-Match", tag); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.StatusCode)
	}

	// Content-addressed shards are immutable; the manifest is not.
	r = get(t, h, "/weights/shard-000-0123456789ab.bin", "Accept-Encoding", "gzip")
	if !strings.Contains(r.Header.Get("Cache-Control"), "immutable") || r.Header.Get("Content-Encoding") != "" {
		t.Errorf("shard: %v", r.Header)
	}
	if r = get(t, h, "/weights/manifest.json"); r.Header.Get("Cache-Control") != "no-cache" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("manifest: %v", r.Header)
	}

	// Security headers, no dot files, no listings, no traversal.
	r = get(t, h, "/")
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Security-Policy"), "'wasm-unsafe-eval'") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("index: %d %v", r.StatusCode, r.Header)
	}
	for _, p := range []string{"/.secret", "/weights/.manifest-123.tmp", "/../" + filepath.Base(dir) + "/index.html", "/nothing"} {
		if r = get(t, h, p); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, r.StatusCode)
		}
	}
	if r = get(t, h, "/sub"); r.StatusCode != http.StatusMovedPermanently {
		t.Errorf("/sub: %d, want a redirect to /sub/", r.StatusCode)
	}
	req := httptest.NewRequest("POST", "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

// The page's meta CSP and the server's header must say the same.
func TestCSPMatchesThePage(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(root, "site", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `content="`+CSP+`"`) {
		t.Errorf("site/index.html's Content-Security-Policy differs from web.CSP:\n%s", CSP)
	}
}

// checkSecurityHeaders: every reply carries the same security headers.
func checkSecurityHeaders(t *testing.T, what string, r *http.Response) {
	t.Helper()
	for k, v := range SecurityHeaders {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s (%d): %s is %q, want %q", what, r.StatusCode, k, got, v)
		}
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("%s: framing is not forbidden", what)
	}
}

// linkedSite is site() with the links build.sh and an attacker make:
// weights/ a link to a folder elsewhere (followed), and links to a secret
// outside (not followed).
func linkedSite(t testing.TB) (dir, secret string) {
	dir = site(t)
	outside := t.TempDir()
	secret = "root:x:0:0"
	os.WriteFile(filepath.Join(outside, "passwd"), []byte(secret), 0o644)
	weights := t.TempDir()
	os.WriteFile(filepath.Join(weights, "manifest.json"), []byte(`{"format":"patchlab-int8"}`), 0o644)
	os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(weights, "shard-000-0123456789ab.bin"))
	os.RemoveAll(filepath.Join(dir, "weights"))
	for link, to := range map[string]string{"weights": weights, "etclink": outside, "passwd.js": filepath.Join(outside, "passwd"), "sub/up": outside} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, secret
}

func TestHandlerSecurity(t *testing.T) {
	dir, _ := linkedSite(t)
	h := Handler(dir)
	for _, c := range []struct {
		path   string
		header []string
		want   int
	}{
		{"/", nil, 200},
		{"/nothing", nil, 404},
		{"/sub", nil, 301},
		{"/weights/manifest.json", nil, 200},
		{"/etclink/passwd", nil, 404},
		{"/passwd.js", nil, 404},
		{"/sub/up/passwd", nil, 404},
		{"/weights/shard-000-0123456789ab.bin", nil, 404},
		{"/a\\b", nil, 404},
		{"/app.js", []string{"Range", "bytes=0-0,2-2"}, 206},
		{"/app.js", []string{"Range", "bytes=" + strings.Repeat("0-0,", 1999) + "0-0"}, 416},
	} {
		r := get(t, h, c.path, c.header...)
		body, _ := io.ReadAll(r.Body)
		if r.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.path, r.StatusCode, c.want)
		}
		if len(body) > 1000 {
			t.Errorf("%s: %d-byte reply", c.path, len(body))
		}
		checkSecurityHeaders(t, c.path, r)
	}
	req := httptest.NewRequest("POST", "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	checkSecurityHeaders(t, "POST", w.Result())
	if r := get(t, h, "/app.js"); true {
		r = get(t, h, "/app.js", "If-None-Match", r.Header.Get("ETag"))
		if r.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: %d", r.StatusCode)
		}
		checkSecurityHeaders(t, "304", r)
	}
}

// TestRedirectStaysOnTheOrigin: GET //sub (or ///sub, /./sub…) redirects
// to the path /sub/, never to //sub/, which names another host.
func TestRedirectStaysOnTheOrigin(t *testing.T) {
	h := Handler(site(t))
	for _, p := range []string{"//sub", "///sub", "/./sub", "//sub/../sub"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if loc := w.Header().Get("Location"); w.Code != http.StatusMovedPermanently || loc != "/sub/" {
			t.Errorf("%s: %d to %q, want 301 to /sub/", p, w.Code, loc)
		}
	}
}

// FuzzHandlerPath: whatever the path, the reply carries the security
// headers, a redirect stays on the origin, and nothing outside the folder
// (but the weights link) is served.
func FuzzHandlerPath(f *testing.F) {
	dir, secret := linkedSite(f)
	h := Handler(dir)
	for _, p := range []string{"/", "//sub", "/sub", "/etclink/passwd", "/weights/manifest.json", "/./weights/../etclink/passwd", "/.secret", "/sub/up/passwd", "/\\evil.example", "/passwd.js", "//weights"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		r := w.Result()
		checkSecurityHeaders(t, p, r)
		switch r.StatusCode {
		case http.StatusOK, http.StatusNotFound:
		case http.StatusMovedPermanently:
			loc := r.Header.Get("Location")
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
				t.Errorf("%q redirects to %q", p, loc)
			}
		default:
			t.Errorf("%q: status %d", p, r.StatusCode)
		}
		if strings.Contains(w.Body.String(), secret) {
			t.Errorf("%q served the file outside the folder", p)
		}
	})
}
