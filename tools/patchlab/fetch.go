package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/patchlab/patchlab/model/calib"
	"github.com/patchlab/patchlab/model/fetch"
	"github.com/patchlab/patchlab/model/safetensors"
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
		if err := fetch.Forget(*out); err != nil {
			return err
		}
	case *src == fetch.DefaultURL:
		// Up to date: a conversion this patchlab reads, at the width asked for.
		if m, err := webfmt.Load(*out); err == nil {
			if got := m.Blocks[0].FC.(*tensor.QN).Bits; width.bits == calib.Auto || got == int(width.bits) {
				fmt.Fprintf(std.out, "%s is up to date in %s (%d-bit codes)\n", capital(m.Config.Name()), *out, got)
				return checkModel(ctx, std, *out, false)
			}
		}
	}
	prog := newProgress(std.err, bytesUnit)
	ckpt, err := fetch.Checkpoint(ctx, *src, *out, func(done, total int64) { prog.update("download", done, total) })
	prog.done()
	if err != nil {
		return err
	}
	if ckpt.Downloaded {
		reportHash(std.out, ckpt)
	}
	// download → convert (→ calibrate, with -bits auto)
	ckptFile, err := safetensors.Open(ckpt.Path)
	if err != nil {
		return err
	}
	defer ckptFile.Close()
	width.announce(std.err)
	report := width.report(func(format string, args ...any) { prog.done(); fmt.Fprintf(std.err, format, args...) })
	err = calib.Convert(ctx, ckptFile, ckpt.ConfigJSON, *out, int(width.bits), width.tolerance, report, func(done, total int64) { prog.update("convert", done, total) })
	prog.done()
	if err != nil {
		return err
	}
	man, err := webfmt.ReadManifest(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "%s is ready in %s\n", capital(man.Config.Name()), *out)
	if *out != dir {
		fmt.Fprintf(std.out, "use it with -model %s (or set PATCHLAB_WEIGHTS=%s)\n", *out, *out)
	}
	return checkModel(ctx, std, *out, false)
}

// reportHash says what was checked of a download: the sha256 the server
// stated, or plainly that it stated none.
func reportHash(w io.Writer, c fetch.Fetched) {
	if c.Result.Stated != "" {
		fmt.Fprintf(w, "downloaded %s: its sha256 %s is the one the server stated\n", c.Path, c.Result.SHA256)
		return
	}
	fmt.Fprintf(w, "downloaded %s: the server stated no sha256, so none could be checked (it has sha256 %s; it was checked as a GPT-2 checkpoint only)\n", c.Path, c.Result.SHA256)
}

// capital starts a sentence with the model's name.
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
