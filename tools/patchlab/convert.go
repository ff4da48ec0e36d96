package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/patchlab/patchlab/model/calib"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/webfmt"
)

func runConvert(ctx context.Context, std *stdio, args []string) error {
	f := newFlags("convert", "-in model.safetensors -out DIR [-config config.json] [-bits auto|9…16]", `
Converts a Hugging Face GPT-2 checkpoint to the web format that the page
loads and -model accepts: weight shards of 9- to 16-bit integer codes with
per-block scales, and a manifest.json (sizes and sha256), written to DIR
under temporary names and renamed into place, the manifest last. With
-bits auto (the default) it loads the checkpoint, measures two calibration
heatmaps with codes from 9 bits up and keeps the narrowest width within
-tolerance of float32 (GPT-2 small: 0.26× its size at 9 bits, +0.03× a bit),
printing each trial. Progress shows on stderr.`)
	in := f.String("in", "", "the checkpoint, a `model.safetensors` (F32, F16, BF16)")
	out := f.String("out", "", "the output `DIR` (created if needed)")
	cfg := f.String("config", "", "the checkpoint's `config.json` (default: the one beside -in, if any; else heads are 64 wide)")
	var width widthFlags
	width.register(f)
	pos, err := f.parse(args, std.out)
	if err != nil {
		return err
	}
	if err := f.wantArgs(pos, 0, "no arguments: give -in and -out"); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return inputf("convert needs -in model.safetensors and -out DIR (see patchlab convert -h)")
	}
	if err := width.check(); err != nil {
		return err
	}
	configJSON, err := readConfig(*in, *cfg)
	if err != nil {
		return err
	}
	src, err := safetensors.Open(*in)
	if err != nil {
		return asInput(err)
	}
	defer src.Close()
	prog := newProgress(std.err, bytesUnit)
	width.announce(std.err)
	report := width.report(func(format string, args ...any) { prog.done(); fmt.Fprintf(std.err, format, args...) })
	err = calib.Convert(ctx, src, configJSON, *out, int(width.bits), width.tolerance, report, func(done, total int64) { prog.update("convert", done, total) })
	prog.done()
	if err != nil {
		return convertError(err, *out)
	}
	fmt.Fprintf(std.out, "wrote %s\n", filepath.Join(*out, webfmt.ManifestName))
	return nil
}

// readConfig reads -config, or else config.json beside the checkpoint if there is one.
func readConfig(in, path string) ([]byte, error) {
	if path == "" {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(in), "config.json"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, asInput(err)
	}
	b, err := os.ReadFile(path)
	return b, asInput(err)
}

// convertError classifies a conversion error: failing to write outDir is
// the system's (exit 1); anything else is the checkpoint's (exit 2).
func convertError(err error, outDir string) error {
	var pe *fs.PathError
	if errors.Is(err, context.Canceled) || (errors.As(err, &pe) && strings.HasPrefix(filepath.Clean(pe.Path), filepath.Clean(outDir))) {
		return err
	}
	return asInput(err)
}
