// Package web builds patchlab's static site (the wasm engine and site/ into
// one folder any static host can serve) and serves such a folder locally.
// build.sh, the browser tests and the browser benchmark all go through it.
package web

import (
	"compress/gzip"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// CSP is the Content-Security-Policy the server sends, the same as the
// page's meta tag (a header also covers the workers, which a meta tag does not).
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co; " +
	"img-src 'self' data: blob:; style-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"

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
// header, no directory listings.
func Handler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Clean("/" + r.URL.Path)
		if strings.Contains(name, "/.") {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/") {
			name = path.Join(name, "index.html")
		}
		file := filepath.Join(dir, filepath.FromSlash(name))
		st, err := os.Stat(file)
		if err == nil && st.IsDir() {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		if err != nil {
			http.NotFound(w, r)
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
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", CSP)
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
			if zst, err := os.Stat(file + ".gz"); err == nil && !zst.ModTime().Before(st.ModTime()) {
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
