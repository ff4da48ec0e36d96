// Package web builds patchlab's static site (the wasm engine and site/ into
// one folder any static host can serve) and serves such a folder locally.
// build.sh, the browser tests and the browser benchmark all go through it.
package web

import (
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// CSP is the Content-Security-Policy of the page's meta tag: everything a
// meta tag can say.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co; " +
	"img-src 'self' data: blob:; style-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"

// HeaderCSP is the Content-Security-Policy the server sends on every reply:
// CSP, and frame-ancestors, which browsers ignore in a meta tag (a header
// also covers the workers, which a meta tag does not).
const HeaderCSP = CSP + "; frame-ancestors 'none'"

// SecurityHeaders are sent with every reply, errors and redirects included.
// A static host should send the same (the README says so).
var SecurityHeaders = map[string]string{
	"Content-Security-Policy": HeaderCSP,
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY", // frame-ancestors for older browsers
}

// maxRanges is the most byte ranges a request may ask for: many small ones
// would make a multipart reply far larger than what was asked.
const maxRanges = 8

// WeightsLink is the one symbolic link the server follows: build.sh serve
// links the site's weights/ to the converted weights.
const WeightsLink = "weights"

var types = map[string]string{
	".wasm":        "application/wasm",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".html":        "text/html; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".bin":         "application/octet-stream",
	".safetensors": "application/octet-stream",
}

// compressible are the types worth gzip: text and wasm code. Weight shards
// (integer codes: noise to gzip) are sent as they are.
var compressible = map[string]bool{".wasm": true, ".js": true, ".mjs": true, ".css": true, ".html": true, ".json": true, ".webmanifest": true, ".svg": true}

// contentAddressed matches file names that hold their content's hash
// (webfmt's shards): cacheable forever.
var contentAddressed = regexp.MustCompile(`-[0-9a-f]{12,64}\.bin$`)

// Handler serves the directory dir: .wasm as application/wasm, gzip where
// the client takes it (a precompressed .gz beside the file when the build
// made one, else compressed on the fly), content-addressed shards cached
// for a year and everything else revalidated on each use (ETag), the CSP
// security headers on every reply, no directory listings, no symbolic link
// followed but WeightsLink, at most maxRanges ranges.
func Handler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range SecurityHeaders {
			w.Header().Set(k, v)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := cleanPath(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/") {
			name = path.Join(name, "index.html")
		}
		file, st, err := lookup(dir, name)
		if err == nil && st.IsDir() {
			// To the same origin's path: never "//host/…", which a browser
			// would take for another host.
			w.Header().Set("Location", (&url.URL{Path: strings.TrimSuffix(name, "/") + "/"}).EscapedPath())
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if rng := r.Header.Get("Range"); strings.Count(rng, ",") >= maxRanges {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", st.Size()))
			http.Error(w, fmt.Sprintf("at most %d ranges", maxRanges), http.StatusRequestedRangeNotSatisfiable)
			return
		}
		ext := strings.ToLower(path.Ext(name))
		h := w.Header()
		ctype := types[ext]
		if ctype == "" {
			ctype = mime.TypeByExtension(ext)
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		h.Set("Content-Type", ctype)
		if contentAddressed.MatchString(name) {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		gz := compressible[ext] && acceptsGzip(r)
		if compressible[ext] {
			h.Add("Vary", "Accept-Encoding")
		}
		// A precompressed copy, if it is at least as new as the file.
		if gz {
			if _, zst, err := lookup(dir, name+".gz"); err == nil && !zst.ModTime().Before(st.ModTime()) {
				serveFile(w, r, file+".gz", zst, `"gz-`+etag(st)+`"`, "gzip")
				return
			}
		}
		if gz && r.Header.Get("Range") == "" {
			f, err := os.Open(file)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer f.Close()
			tag := `"z-` + etag(st) + `"`
			h.Set("ETag", tag)
			if match := r.Header.Get("If-None-Match"); match == tag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			h.Set("Content-Encoding", "gzip")
			if r.Method == http.MethodHead {
				return
			}
			zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			io.Copy(zw, f)
			zw.Close()
			return
		}
		serveFile(w, r, file, st, `"`+etag(st)+`"`, "")
	})
}

// cleanPath is the slash-separated name under the served folder that a URL
// path asks for, beginning with one "/"; not ok for a backslash, a NUL or a
// hidden (dot) file or folder.
func cleanPath(p string) (name string, ok bool) {
	if strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	name = path.Clean("/" + p)
	return name, !strings.Contains(name, "/.")
}

// lookup finds name under dir without following a symbolic link, except
// WeightsLink at the top.
func lookup(dir, name string) (string, os.FileInfo, error) {
	file := dir
	parts := strings.Split(strings.TrimPrefix(name, "/"), "/")
	for i, part := range parts {
		if part == "" {
			continue
		}
		file = filepath.Join(file, part)
		st, err := os.Lstat(file)
		if err != nil {
			return "", nil, err
		}
		if st.Mode()&fs.ModeSymlink != 0 && (i != 0 || part != WeightsLink) {
			return "", nil, fs.ErrNotExist
		}
	}
	st, err := os.Stat(file)
	if err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		err = fs.ErrNotExist // no devices, pipes or sockets
	}
	return file, st, err
}

func serveFile(w http.ResponseWriter, r *http.Request, file string, st os.FileInfo, tag, encoding string) {
	f, err := os.Open(file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("ETag", tag)
	if encoding != "" {
		w.Header().Set("Content-Encoding", encoding)
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func etag(st os.FileInfo) string {
	return fmt.Sprintf("%x-%x", st.ModTime().UnixNano(), st.Size())
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
