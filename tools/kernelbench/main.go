//go:build !js

// Command kernelbench times the engine's matrix kernels where the page runs
// them: it compiles them to WebAssembly twice (portable, and SIMD with Go
// 1.27's simd/archsimd), runs each in headless Chromium and prints one JSON
// line: GFLOP/s per kernel and shape for both builds, and SIMD's speed-up.
//
//	go run ./tools/kernelbench
//
// The shapes are GPT-2 small's with the web format's code widths (see
// kernels_js.go, the half that runs in the page). Exit status: 0 done, 1 the
// bench failed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/patchlab/patchlab/tools/browserbench/chromium"
	"github.com/patchlab/patchlab/tools/serve/web"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "kernelbench:", err)
		os.Exit(1)
	}
}

// page runs build/kernels.wasm with that build's wasm_exec.js.
const page = `<!doctype html><script src="wasm_exec.js"></script><script>
const go = new Go();
WebAssembly.instantiateStreaming(fetch("kernels.wasm"), go.importObject).then((r) => go.run(r.instance));
</script>`

func run(ctx context.Context) error {
	root, err := web.ModuleRoot(".")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "patchlab-kernelbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	builds := []string{"portable", "simd"}
	for _, b := range builds {
		if err := build(ctx, root, filepath.Join(tmp, b), b == "simd"); err != nil {
			return err
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(tmp)))
	defer srv.Close()

	path := chromium.Find()
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no Chromium at %s: install it (apt-get install chromium) or set PATCHLAB_CHROMIUM to it", path)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromium.AllocatorOptions(path, filepath.Join(tmp, "profile"))...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	out := map[string]any{"engine": "wasm-chromium"}
	res := map[string]map[string]float64{}
	for _, b := range builds {
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"+b+"/")); err != nil {
			return fmt.Errorf("opening the %s build's page: %w", b, err)
		}
		s, err := chromedp.Run(bctx, chromedp.Poll[string](`window.kernelbench`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Minute)))
		if err != nil {
			return fmt.Errorf("the %s build in Chromium: %w", b, err)
		}
		var r map[string]float64
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			return err
		}
		res[b], out[b] = r, r
	}
	speedup := map[string]float64{}
	for k, v := range res["simd"] {
		if p := res["portable"][k]; p > 0 {
			speedup[k] = float64(int(v/p*100+0.5)) / 100
		}
	}
	out["simd_speedup"] = speedup
	return json.NewEncoder(os.Stdout).Encode(out)
}

// build compiles the page's half into dir with its wasm_exec.js and page.
func build(ctx context.Context, root, dir string, simd bool) error {
	env := append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if simd {
		env = append(env, "GOTOOLCHAIN="+web.SIMDToolchain, "GOEXPERIMENT=simd")
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "kernels.wasm"), "./tools/kernelbench")
	cmd.Dir, cmd.Env = root, env
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compiling the kernels (simd %v): %v\n%s", simd, err, msg)
	}
	cmd = exec.CommandContext(ctx, "go", "env", "GOROOT")
	cmd.Dir, cmd.Env = root, env
	goroot, err := cmd.Output()
	if err != nil {
		return err
	}
	js, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644)
}
