package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"

	"github.com/patchlab/patchlab/model/calib"
	"github.com/patchlab/patchlab/model/safetensors"
)

// Options are how FetchAndConvert converts and reports.
type Options struct {
	Bits      int     // the web format's code width, or calib.Auto
	Tolerance float64 // calib.Auto's limit on heatmap errors
	// Progress, if not nil, is called with the stage ("download", "convert")
	// and its progress in bytes; Report, if not nil, with each width that
	// calib.Auto tries.
	Progress func(stage string, done, total int64)
	Report   func(calib.Trial)
	// Calibrating, if not nil, is called when calib.Auto starts, after the
	// download: the float32 load and the first trial take a while.
	Calibrating func()
}

// FetchAndConvert downloads the checkpoint at url to outDir/model.safetensors
// (kept for later, with its URL in source-url.txt, and not downloaded again
// while it is there, valid and from the same URL),
// then converts it to the web format in outDir (calib.Convert): manifest.json
// and shards. The number of heads comes from outDir/config.json, or else
// from a config.json beside url, saved there; without one, heads are 64
// wide as in every GPT-2.
func FetchAndConvert(ctx context.Context, url, outDir string, opts Options) error {
	progress := opts.Progress
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	dest := filepath.Join(outDir, "model.safetensors")
	source := filepath.Join(outDir, "source-url.txt")
	if was, _ := os.ReadFile(source); string(was) != url {
		// Another checkpoint's files: neither it nor its config.json are this one's.
		for _, name := range []string{dest, dest + ".part", filepath.Join(outDir, "config.json")} {
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("fetch: %w", err)
			}
		}
	}
	if checkCheckpoint(dest) != nil {
		if err := os.WriteFile(source, []byte(url), 0o644); err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		err := Download(ctx, url, dest, func(done, total int64) { progress("download", done, total) })
		if err != nil {
			return err
		}
	}
	configJSON, err := config(ctx, url, filepath.Join(outDir, "config.json"))
	if err != nil {
		return err
	}
	f, err := safetensors.Open(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	if opts.Bits == calib.Auto && opts.Calibrating != nil {
		opts.Calibrating()
	}
	return calib.Convert(ctx, f, configJSON, outDir, opts.Bits, opts.Tolerance, opts.Report, func(done, total int64) { progress("convert", done, total) })
}

// config returns the config.json at path, or else the one beside url, which
// it saves at path. A server without one is not an error: it returns nil.
func config(ctx context.Context, url, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	base, err := neturl.Parse(url)
	if err != nil {
		return nil, nil
	}
	beside := base.ResolveReference(&neturl.URL{Path: "config.json"}).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, beside, nil)
	if err != nil {
		return nil, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, ctx.Err()
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var obj map[string]any
	if err != nil || resp.StatusCode != http.StatusOK || mt == "text/html" || json.Unmarshal(data, &obj) != nil {
		return nil, ctx.Err()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	return data, nil
}
