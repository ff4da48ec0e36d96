package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/webfmt"
)

// TestLengthMismatch is the golden length-mismatch case: status 2 and a
// message that shows both tokenizations.
func TestLengthMismatch(t *testing.T) {
	for _, c := range golden(t) {
		if c["error"] == nil {
			continue
		}
		clean, corrupted := c["clean"].(string), c["corrupted"].(string)
		code, _, errs := patchlab(t, "sweep", "-model", tinyModel, "-clean", clean, "-corrupted", corrupted,
			"-clean-target", " Jones", "-corrupted-target", " Smith")
		tok := bpe.New()
		for _, want := range []string{analysis.Join(analysis.Tokenize(tok, clean)), analysis.Join(analysis.Tokenize(tok, corrupted)), "different token counts"} {
			if !strings.Contains(errs, want) {
				t.Errorf("%s: message lacks %q: %q", c["name"], want, errs)
			}
		}
		if code != exitInput || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s: status %d, message %q (want 2 and one line)", c["name"], code, errs)
		}
	}
}

// TestInputErrors checks each kind of bad input: status 2 and one line on
// stderr that says what is wrong.
func TestInputErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.safetensors")
	if err := os.WriteFile(garbage, []byte("this is not a safetensors file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	badUTF8 := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(badUTF8, []byte("Michelle \xff\xfe Jones"), 0o644); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("word ", 70)
	withClean := func(text string) []string {
		return []string{"sweep", "-model", tinyModel, "-clean", text, "-corrupted", text, "-clean-target", " Jones", "-corrupted-target", " Smith"}
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"target not one token", sweepArgs("-sites", "embed", "-clean-target", " Jonesberg and"), []string{"clean target", "not one", " Jones/berg/ and"}},
		{"target hint", sweepArgs("-corrupted-target", "Smithers"), []string{"corrupted target", "Sm/ither/s"}},
		{"unknown site", sweepArgs("-sites", "resid_post,bogus"), []string{`unknown site "bogus"`, "z_per_position"}},
		{"unknown metric", sweepArgs("-metric", "kl"), []string{`unknown metric "kl"`, "logit_diff"}},
		{"missing model", sweepArgs("-model", filepath.Join(dir, "nope.safetensors")), []string{"nope.safetensors", "no such file"}},
		{"malformed model", sweepArgs("-model", garbage), []string{"garbage.safetensors"}},
		{"directory without model", sweepArgs("-model", dir), []string{"neither manifest.json nor model.safetensors"}},
		{"too long", withClean(long), []string{"clean text has", "more than the model's context of 64"}},
		{"empty text", withClean(""), []string{"clean text is empty"}},
		{"whitespace text", withClean(" \t "), []string{"clean text is only whitespace"}},
		{"missing flags", []string{"sweep", "-model", tinyModel, "-clean", michelle}, []string{"missing -corrupted, -clean-target, -corrupted-target"}},
		{"identical texts", append(withClean(michelle), "-metric", "normalized"), []string{"the corrupted text has the same tokens as the clean text"}},
		{"stray argument", sweepArgs("extra"), []string{"no arguments"}},
		{"unknown flag", sweepArgs("-bogus"), []string{"flag provided but not defined: -bogus"}},
		{"invalid UTF-8 file", []string{"tokenize", "-file", badUTF8}, []string{"bad.txt is not valid UTF-8"}},
		{"missing text file", []string{"tokenize", "-file", filepath.Join(dir, "none.txt")}, []string{"none.txt"}},
		{"tokenize empty", []string{"tokenize", ""}, []string{"empty"}},
		{"top whitespace", []string{"top", "-model", tinyModel, "  "}, []string{"only whitespace"}},
		{"top too long", []string{"top", "-model", tinyModel, long}, []string{"more than the model's context of 64"}},
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate"`}},
		{"bench tokens", []string{"bench", "-tokens", "1"}, []string{"-tokens 1"}},
		{"fetch url", []string{"fetch", "-url", "ftp://x/y", "-out", dir}, []string{"http or https"}},
		{"convert missing in", []string{"convert", "-in", filepath.Join(dir, "nope.safetensors"), "-out", filepath.Join(dir, "web")}, []string{"nope.safetensors"}},
	}
	for _, c := range cases {
		code, out, errs := patchlab(t, c.args...)
		if code != exitInput {
			t.Errorf("%s: status %d, want 2 (stderr %q)", c.name, code, errs)
		}
		if strings.Count(errs, "\n") != 1 {
			t.Errorf("%s: want one line on stderr, got %q", c.name, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: message %q lacks %q", c.name, errs, w)
			}
		}
		if strings.Contains(out, "wrote") {
			t.Errorf("%s: wrote output: %q", c.name, out)
		}
	}
}

// TestDefaultModel checks the message when no -model is given and the
// default directory holds no model, and that the directory is used when it does.
func TestDefaultModel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATCHLAB_WEIGHTS", dir)
	code, _, errs := patchlab(t, "top", michelle)
	if code != exitInput || !strings.Contains(errs, "go run ./tools/patchlab fetch") || !strings.Contains(errs, dir) {
		t.Errorf("status %d, message %q", code, errs)
	}
	for _, name := range []string{"model.safetensors", "config.json"} { // config.json: the tiny model's heads
		data, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errs := patchlab(t, "top", "-k", "1", michelle); code != 0 || !strings.Contains(out, "| 1    | 233 ") {
		t.Errorf("status %d, output %q, stderr %q", code, out, errs)
	}
}

// TestPanicIsInternal: a bug that panics exits 1 (internal), not Go's 2.
func TestPanicIsInternal(t *testing.T) {
	err := guard(func() error { panic("boom") })
	if code := exitCode(err); code != exitInternal || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("exit %d, %v", code, err)
	}
}

// TestModelOfAnotherVocabulary: a model whose wte has fewer rows than the
// tokenizer has tokens is refused at load, naming the model and the tensor,
// not when a token falls outside it.
func TestModelOfAnotherVocabulary(t *testing.T) {
	dir := t.TempDir()
	m := gpt2.Random(gpt2.Config{Layers: 1, Heads: 1, Width: 64, Context: 16, Vocab: 100}, 1)
	if err := webfmt.ConvertModel(m, 12, nil, dir, nil); err != nil {
		t.Fatal(err)
	}
	code, _, errs := patchlab(t, "top", "-model", dir, michelle)
	if code != exitInput || !strings.Contains(errs, "wte.weight has 100 rows, but GPT-2's tokenizer has 50257 tokens") || strings.Count(errs, dir) != 1 {
		t.Errorf("status %d, %q", code, errs)
	}
}

// TestModelErrorNamesThePathOnce: a damaged checkpoint's error names its
// file once.
func TestModelErrorNamesThePathOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	b, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b[:len(b)/2], 0o644)
	code, _, errs := patchlab(t, "top", "-model", path, michelle)
	if code != exitInput || strings.Count(errs, path) != 1 {
		t.Errorf("status %d, %q", code, errs)
	}
}
