package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/patchlab/patchlab/model/calib"
	"github.com/patchlab/patchlab/model/fetch"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/webfmt"
)

func runFetch(ctx context.Context, std *stdio, args []string) error {
	dir, dirErr := defaultModelDir()
	f := newFlags("fetch", "[-url URL] [-out DIR] [-bits auto|9…16]", `
Downloads GPT-2 small (model.safetensors, 548 MB; resumed if interrupted, kept
for later) and converts it to the web format in DIR, with progress on stderr.
Without -out, DIR is the default place where the other commands look for the
model: $PATCHLAB_WEIGHTS, else ~/.cache/patchlab/gpt2 ($XDG_CACHE_HOME/patchlab/gpt2).
With the default URL, when DIR already holds a conversion that this patchlab
reads and whose shards check out, it says so and does nothing. -force
downloads and converts again. -bits and -tolerance are convert's.`)
	src := f.String("url", fetch.DefaultURL, "the checkpoint's `URL`")
	out := f.String("out", dir, "the output `DIR`")
	force := f.Bool("force", false, "download and convert even when DIR is up to date")
	var width widthFlags
	width.register(f)
	pos, err := f.parse(args, std.out)
	if err != nil {
		return err
	}
	if err := f.wantArgs(pos, 0, "no arguments"); err != nil {
		return err
	}
	if *out == "" {
		return asInput(dirErr)
	}
	if err := width.check(); err != nil {
		return err
	}
	if u, err := url.Parse(*src); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return inputf("-url %q: want an http or https URL", *src)
	}
	switch {
	case *force:
		// Download again too, not only convert the checkpoint kept there.
		for _, name := range []string{"model.safetensors", "model.safetensors.part", "config.json"} {
			if err := os.Remove(filepath.Join(*out, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	case *src == fetch.DefaultURL:
		// Up to date: a conversion this patchlab reads, at the width asked for.
		if m, err := webfmt.Load(*out); err == nil {
			if got := m.Blocks[0].FC.(*tensor.QN).Bits; width.bits == calib.Auto || got == int(width.bits) {
				fmt.Fprintf(std.out, "GPT-2 is up to date in %s (%d-bit codes)\n", *out, got)
				return nil
			}
		}
	}
	prog := newProgress(std.err, bytesUnit)
	err = fetch.FetchAndConvert(ctx, *src, *out, fetch.Options{
		Bits: int(width.bits), Tolerance: width.tolerance, Progress: prog.update,
		Report:      width.report(func(format string, args ...any) { prog.done(); fmt.Fprintf(std.err, format, args...) }),
		Calibrating: func() { prog.done(); width.announce(std.err) },
	})
	prog.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "GPT-2 is ready in %s\n", *out)
	if *out != dir {
		fmt.Fprintf(std.out, "use it with -model %s (or set PATCHLAB_WEIGHTS=%s)\n", *out, *out)
	}
	return nil
}
