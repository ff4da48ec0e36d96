package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/model/weights"
)

const modelFlagUsage = "the model: a `model.safetensors`, or a web-format directory (or its manifest.json); default: the converted GPT-2 in $PATCHLAB_WEIGHTS, else in ~/.cache/patchlab/gpt2 (or $XDG_CACHE_HOME/patchlab/gpt2)"

// defaultModelDir is where `patchlab fetch` and `./build.sh weights` put the
// converted GPT-2: $PATCHLAB_WEIGHTS if set, else
// ${XDG_CACHE_HOME:-~/.cache}/patchlab/gpt2 — on every system, so that
// build.sh (which spells it the same way) and the CLI always agree.
func defaultModelDir() (string, error) {
	if d := os.Getenv("PATCHLAB_WEIGHTS"); d != "" {
		return d, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no $PATCHLAB_WEIGHTS and no home directory: %w", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "patchlab", "gpt2"), nil
}

// loadModel loads the -model argument: a model.safetensors, a web-format
// directory or its manifest.json, or (when path is empty) the default
// directory. Every failure is the user's to fix (exit 2).
func loadModel(path string) (*gpt2.Model, error) {
	if path == "" {
		dir, err := defaultModelDir()
		if err != nil {
			return nil, asInput(err)
		}
		if !exists(filepath.Join(dir, webfmt.ManifestName)) && !exists(filepath.Join(dir, "model.safetensors")) {
			return nil, inputf("no model given and no GPT-2 in %s: get it with `go run ./tools/patchlab fetch` (or `./build.sh weights`), set $PATCHLAB_WEIGHTS, or pass -model model.safetensors", dir)
		}
		path = dir
	}
	m, err := loadPath(path)
	vocab := bpe.New().VocabSize()
	switch {
	case err != nil && strings.Contains(err.Error(), path):
		return nil, asInput(err) // the loaders name the file: once is enough
	case err != nil:
		return nil, inputf("model %s: %v", path, err)
	case m.Vocab < vocab:
		return nil, inputf("model %s: wte.weight has %d rows, but GPT-2's tokenizer has %d tokens: patchlab needs a model of GPT-2's vocabulary", path, m.Vocab, vocab)
	}
	return m, nil
}

func loadPath(path string) (*gpt2.Model, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("no such file or directory")
	case err != nil:
		return nil, err
	case st.IsDir() && exists(filepath.Join(path, webfmt.ManifestName)):
		return webfmt.Load(path)
	case st.IsDir() && exists(filepath.Join(path, "model.safetensors")):
		return weights.LoadSafetensors(filepath.Join(path, "model.safetensors"))
	case st.IsDir():
		return nil, fmt.Errorf("a directory with neither %s nor model.safetensors", webfmt.ManifestName)
	case filepath.Base(path) == webfmt.ManifestName:
		return webfmt.Load(filepath.Dir(path))
	}
	return weights.LoadSafetensors(path)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
