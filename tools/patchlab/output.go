package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	json "github.com/goccy/go-json"
)

// writeJSON writes v as one line of JSON, or indented.
func writeJSON(w io.Writer, v any, indent bool) error {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// outputs stages files under temporary names beside their destinations and
// renames them all into place at the end, so that an error or an interrupt
// never leaves a half-written output, and a failed run leaves none.
type outputs struct {
	staged []stagedFile
}

type stagedFile struct{ tmp, path string }

// add writes one output to a temporary file in path's directory (created if
// needed), flushed to disk.
func (o *outputs) add(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return asInput(err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return asInput(err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	o.staged = append(o.staged, stagedFile{tmp: f.Name(), path: path})
	return nil
}

// commit renames every staged file into place, unless ctx is done.
func (o *outputs) commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		o.abort()
		return err
	}
	for i, s := range o.staged {
		if err := os.Rename(s.tmp, s.path); err != nil {
			o.staged = o.staged[i:]
			o.abort()
			return err
		}
		syncDir(filepath.Dir(s.path))
	}
	o.staged = nil
	return nil
}

// abort removes the staged files.
func (o *outputs) abort() {
	for _, s := range o.staged {
		os.Remove(s.tmp)
	}
	o.staged = nil
}

// paths lists the destinations staged so far.
func (o *outputs) paths() []string {
	var out []string
	for _, s := range o.staged {
		out = append(out, s.path)
	}
	return out
}

// syncDir flushes a directory entry (a rename) to disk where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// perView is the name of one of several outputs from one flag: "out.png"
// with view "resid_post" is "out-resid_post.png"; a single output keeps the
// name given.
func perView(path, view string, several bool) string {
	if !several {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + view + ext
}
