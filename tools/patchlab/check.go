package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/selfcheck"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/webfmt"
)

const checkAbout = `
Runs the published example (the course assignment's, with GPT-2 small's
numbers) on the model — "Michelle Jones was a
top-notch student. Michelle" against "Michelle Smith …", targets " Jones" and
" Smith" — and compares it with the published GPT-2 small numbers: the 20 most
probable next tokens in the published order, each probability within 5e-4 of
the table, and the published shape of the resid_post heatmap (the second
column pulls strongly towards " Jones" in the early layers, columns 2–9 stay
near the corrupted run, the last column moves in the late layers). It prints
what it checked and the worst deviation.

A converted directory is checked within the web format's promise (each
heatmap cell within 2% of the heatmap's range; probabilities correspondingly
wider), and the result is recorded in its manifest.json ("check"); the
float32 model.safetensors beside it, if any, is checked as well, exactly. A
model that is not GPT-2 small is skipped: not checked, so not passed.

Exit status: 0 passed (or skipped, without -require), 1 failed, 2 bad input.`

// published is what check compares with (the tests swap in the fixture's).
var published = selfcheck.Published

func runCheck(ctx context.Context, std *stdio, args []string) error {
	f := newFlags("check", "[-model M] [-require]", checkAbout)
	model := f.String("model", "", modelFlagUsage)
	require := f.Bool("require", false, "fail (exit 1) when the model is skipped as not GPT-2 small, as a deploy must")
	pos, err := f.parse(args, std.out)
	if err != nil {
		return err
	}
	if err := f.wantArgs(pos, 0, "no arguments"); err != nil {
		return err
	}
	return checkModel(ctx, std, *model, *require)
}

// checkModel checks the model at path ("" for the default directory) as
// check does: a converted directory's result goes into its manifest. With
// require, a model skipped as not GPT-2 small is an error too.
func checkModel(ctx context.Context, std *stdio, path string, require bool) error {
	targets, err := checkTargets(path)
	if err != nil {
		return err
	}
	tok := bpe.New()
	var failed, skipped []string
	for _, path := range targets {
		res, kind, err := checkOne(ctx, std, tok, path)
		if err != nil {
			return err
		}
		switch res.Status() {
		case "failed":
			failed = append(failed, kind)
		case "skipped":
			skipped = append(skipped, kind)
		}
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("the %s failed the check against the published GPT-2 small numbers (see above): do not use or publish it; convert it again, or report the failure", failed[0])
	case len(skipped) > 0 && require:
		return fmt.Errorf("the %s was skipped as not GPT-2 small, and -require wants it checked", skipped[0])
	}
	return nil
}

// checkTargets lists what to check for -model: a converted directory and
// the float32 checkpoint beside it when there is one, or a checkpoint.
func checkTargets(path string) ([]string, error) {
	if path == "" {
		dir, err := defaultModelDir()
		if err != nil {
			return nil, asInput(err)
		}
		if !exists(filepath.Join(dir, webfmt.ManifestName)) && !exists(filepath.Join(dir, "model.safetensors")) {
			return nil, inputf("no model given and no GPT-2 in %s: get it with `go run ./tools/patchlab fetch` (or `./build.sh weights`), or pass -model", dir)
		}
		path = dir
	}
	if filepath.Base(path) == webfmt.ManifestName {
		path = filepath.Dir(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, inputf("model %s: no such file or directory", path)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	for _, name := range []string{webfmt.ManifestName, "model.safetensors"} {
		if exists(filepath.Join(path, name)) {
			out = append(out, filepath.Join(path, name))
		}
	}
	if len(out) == 0 {
		return nil, inputf("model %s: a directory with neither %s nor model.safetensors", path, webfmt.ManifestName)
	}
	return out, nil
}

// checkOne loads one model, checks it, prints the result and, for a
// converted directory, records it in the manifest.
func checkOne(ctx context.Context, std *stdio, tok *bpe.Tokenizer, path string) (*selfcheck.Result, string, error) {
	m, err := loadModel(path)
	if err != nil {
		return nil, "", err
	}
	defer runtime.GC() // the next model needs the memory
	kind, tol := "float32 model", selfcheck.Float32
	if q, ok := m.Blocks[0].FC.(*tensor.QN); ok {
		kind, tol = fmt.Sprintf("web format (%d-bit codes)", q.Bits), selfcheck.WebFormat
	}
	fmt.Fprintf(std.out, "%s: %s, %s\n", path, modelShape(m.Config), kind)
	res, err := selfcheck.Run(ctx, m, tok, published, tol)
	if err != nil {
		return nil, "", err
	}
	fmt.Fprint(std.out, res.Report())
	if filepath.Base(path) == webfmt.ManifestName {
		c := &webfmt.Check{Result: res.Status(), Against: res.Against, Checks: len(res.Items), Detail: res.Summary()}
		if err := webfmt.WriteCheck(filepath.Dir(path), c); err != nil {
			return nil, "", fmt.Errorf("recording the check in %s: %w", path, err)
		}
		fmt.Fprintf(std.out, "recorded in %s\n", path)
	}
	return res, kind, nil
}

func modelShape(c gpt2.Config) string {
	return fmt.Sprintf("%d layers, %d heads, width %d", c.Layers, c.Heads, c.Width)
}
