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

	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/weights"
)

// Fetched is a checkpoint on disk, ready to convert.
type Fetched struct {
	Path       string // dir/model.safetensors
	ConfigJSON []byte // its config.json, nil if the server has none
	// Downloaded is true when it was downloaded now (not kept from before);
	// Result then says what was checked.
	Downloaded bool
	Result     Result
}

// Checkpoint downloads the checkpoint at url to dir/model.safetensors (kept
// for later, with its URL in source-url.txt, and not downloaded again while
// it is there, valid and from the same URL), and the config.json beside
// url, if the server has one, to dir/config.json. progress is Download's.
func Checkpoint(ctx context.Context, url, dir string, progress func(done, total int64)) (Fetched, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Fetched{}, fmt.Errorf("fetch: %w", err)
	}
	out := Fetched{Path: filepath.Join(dir, "model.safetensors")}
	source := filepath.Join(dir, "source-url.txt")
	if was, _ := os.ReadFile(source); string(was) != url {
		// Another checkpoint's files: neither it nor its config.json are this one's.
		if err := Forget(dir); err != nil {
			return Fetched{}, err
		}
	}
	if checkCheckpoint(out.Path) != nil {
		if err := os.WriteFile(source, []byte(url), 0o644); err != nil {
			return Fetched{}, fmt.Errorf("fetch: %w", err)
		}
		res, err := Download(ctx, url, out.Path, progress)
		if err != nil {
			return Fetched{}, err
		}
		out.Downloaded, out.Result = true, res
	}
	var err error
	out.ConfigJSON, err = config(ctx, url, filepath.Join(dir, "config.json"))
	return out, err
}

// Forget removes the checkpoint kept in dir, its config.json and any
// unfinished download, so that the next Checkpoint downloads them again.
func Forget(dir string) error {
	dest := filepath.Join(dir, "model.safetensors")
	for _, name := range []string{dest, filepath.Join(dir, "config.json")} {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fetch: %w", err)
		}
	}
	if err := RemovePart(dest); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

// checkCheckpoint checks, from its header, that path is a safetensors file
// holding GPT-2's tensors with their shapes, its data all present. The heads
// do not change any shape, so no config.json is needed yet.
func checkCheckpoint(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := weights.Check(f, nil); err != nil {
		return fmt.Errorf("%w: not a GPT-2 checkpoint", err)
	}
	return nil
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
	if err != nil || resp.StatusCode != http.StatusOK || mt == "text/html" || json.Unmarshal(data, &obj) != nil || obj == nil {
		return nil, ctx.Err()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	return data, nil
}
