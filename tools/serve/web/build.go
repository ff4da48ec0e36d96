package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Report is what a build made.
type Report struct {
	Dir           string
	Files         int   // files copied or built (not counting .gz copies)
	WasmBytes     int64 // patchlab.wasm
	WasmGzipBytes int64 // patchlab.wasm.gz
	// The SIMD build, patchlab-simd.wasm(.gz).
	SIMDWasmBytes, SIMDWasmGzipBytes int64
	Version                          string
}

func (r Report) String() string {
	return fmt.Sprintf("%s: %d files, patchlab.wasm %.1f MB (%.2f MB gzipped), patchlab-simd.wasm %.1f MB (%.2f MB gzipped), version %s",
		r.Dir, r.Files, float64(r.WasmBytes)/1e6, float64(r.WasmGzipBytes)/1e6,
		float64(r.SIMDWasmBytes)/1e6, float64(r.SIMDWasmGzipBytes)/1e6, r.Version)
}

// SIMDToolchain is the Go release that compiles the SIMD engine: Go 1.27
// lowers simd/archsimd (GOEXPERIMENT=simd) to WebAssembly SIMD. The go
// command fetches it through the module proxy on first use (GOTOOLCHAIN).
const SIMDToolchain = "go1.27.3"

// buildEngine compiles ./wasm to out: the portable build, or with simd the
// WebAssembly SIMD one (the page picks by what the browser supports, see
// site/wasmbuild.js).
func buildEngine(ctx context.Context, root, out string, simd bool) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./wasm/")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	what := "GOOS=js GOARCH=wasm go build ./wasm/"
	if simd {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+SIMDToolchain, "GOEXPERIMENT=simd")
		what = "GOTOOLCHAIN=" + SIMDToolchain + " GOEXPERIMENT=simd " + what + "; the first time, the go command downloads " + SIMDToolchain + " from the Go module proxy"
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build: compiling the engine (%s): %v\n%s", what, err, msg)
	}
	return nil
}

// ModuleRoot finds the directory of go.mod from dir upwards.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above: building the page needs the patchlab source, so run this inside a patchlab checkout", dir)
		}
	}
}

// Build builds the site of the module at root into out: the engine
// (./wasm, GOOS=js GOARCH=wasm), Go's wasm_exec.js, the files of site/,
// sw.js stamped with a version (a hash of everything), and a .gz beside
// every compressible file. It builds in a new directory and swaps it in,
// keeping out/weights if there is one, so a failed build leaves out as it
// was and a repeated build gives the same folder.
func Build(ctx context.Context, root, out string) (Report, error) {
	rep := Report{Dir: out}
	siteDir := filepath.Join(root, "site")
	if _, err := os.Stat(filepath.Join(siteDir, "index.html")); err != nil {
		return rep, fmt.Errorf("build: %s has no site/index.html: is it the patchlab module?", root)
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return rep, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return rep, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+"-build-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(tmp)

	// The engine, portable and SIMD.
	wasm, simdWasm := filepath.Join(tmp, "patchlab.wasm"), filepath.Join(tmp, "patchlab-simd.wasm")
	if err := buildEngine(ctx, root, wasm, false); err != nil {
		return rep, err
	}
	if err := buildEngine(ctx, root, simdWasm, true); err != nil {
		return rep, err
	}
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return rep, fmt.Errorf("build: go env GOROOT: %v", err)
	}
	execJS := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js")
	if err := copyFile(execJS, filepath.Join(tmp, "wasm_exec.js")); err != nil {
		return rep, fmt.Errorf("build: wasm_exec.js (from the Go installation): %w", err)
	}

	// The site.
	err = filepath.WalkDir(siteDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(siteDir, p)
		if strings.HasPrefix(d.Name(), ".") && rel != "." {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(tmp, rel), 0o755)
		}
		return copyFile(p, filepath.Join(tmp, rel))
	})
	if err != nil {
		return rep, fmt.Errorf("build: copying site/: %w", err)
	}
	if rep.Version, err = stampServiceWorker(tmp); err != nil {
		return rep, err
	}

	// Precompressed copies.
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rep.Files++
		if !compressible[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		return gzipFile(p)
	})
	if err != nil {
		return rep, fmt.Errorf("build: compressing: %w", err)
	}
	if st, err := os.Stat(wasm); err == nil {
		rep.WasmBytes = st.Size()
	}
	if st, err := os.Stat(wasm + ".gz"); err == nil {
		rep.WasmGzipBytes = st.Size()
	}
	if st, err := os.Stat(simdWasm); err == nil {
		rep.SIMDWasmBytes = st.Size()
	}
	if st, err := os.Stat(simdWasm + ".gz"); err == nil {
		rep.SIMDWasmGzipBytes = st.Size()
	}

	// Swap it in, keeping the weights.
	if _, err := os.Lstat(filepath.Join(out, "weights")); err == nil {
		if err := os.Rename(filepath.Join(out, "weights"), filepath.Join(tmp, "weights")); err != nil {
			return rep, fmt.Errorf("build: keeping %s/weights: %w", out, err)
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return rep, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return rep, err
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return rep, err
	}
	return rep, nil
}

var (
	versionLine = regexp.MustCompile(`(?m)^const VERSION = "[^"]*";$`)
	filesBlock  = regexp.MustCompile(`(?s)const FILES = \[(.*?)\];`)
	quoted      = regexp.MustCompile(`"([^"]*)"`)
)

// stampServiceWorker sets sw.js's VERSION to a hash of the built files and
// checks that every file its shell list names exists.
func stampServiceWorker(dir string) (string, error) {
	swPath := filepath.Join(dir, "sw.js")
	sw, err := os.ReadFile(swPath)
	if err != nil {
		return "", fmt.Errorf("build: site/sw.js: %w", err)
	}
	block := filesBlock.FindSubmatch(sw)
	if block == nil || !versionLine.Match(sw) {
		return "", errors.New("build: site/sw.js has no `const VERSION = \"…\";` line or no FILES list")
	}
	listed := map[string]bool{}
	for _, m := range quoted.FindAllSubmatch(block[1], -1) {
		name := string(m[1])
		if name == "./" {
			name = "index.html"
		}
		listed[name] = true
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			return "", fmt.Errorf("build: sw.js caches %q, which the build does not make", m[1])
		}
	}
	var names []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == swPath {
			return err
		}
		names = append(names, p)
		// Every file of the app must be in the shell, or the page breaks offline.
		if rel, _ := filepath.Rel(dir, p); !listed[filepath.ToSlash(rel)] {
			return fmt.Errorf("build: site/%s is not in sw.js's FILES: add it, or the page misses it offline", filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, p := range names {
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(data))
		h.Write(data)
	}
	version := hex.EncodeToString(h.Sum(nil))[:12]
	sw = versionLine.ReplaceAll(sw, []byte(`const VERSION = "`+version+`";`))
	return version, os.WriteFile(swPath, sw, 0o644)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

func gzipFile(p string) error {
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := io.Copy(zw, bytes.NewReader(data)); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(p+".gz", b.Bytes(), 0o644)
}
