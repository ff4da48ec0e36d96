package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/safetensors"
)

// TestTokenizeHostile feeds the live tokenization what a user may paste:
// nothing, only whitespace, a megabyte, control characters. Each answer is
// quick, bounded in size, and says what is wrong.
func TestTokenizeHostile(t *testing.T) {
	e := NewEngine()
	if L := maxTokenBytes(e.tok); L != 128 {
		t.Errorf("the longest GPT-2 token is %d bytes, want 128", L)
	}
	big := strings.Repeat("Michelle Jones was a top-notch student. ", 1<<20/40+1)[:1<<20]
	cases := []struct {
		name  string
		req   analysis.Request
		field string
		says  []string
	}{
		{"empty", analysis.Request{Clean: "", Corrupted: "x", CleanTarget: " a", CorruptedTarget: " b"}, "clean", []string{"clean text is empty"}},
		{"whitespace", analysis.Request{Clean: "a b", Corrupted: " \t\n\u00a0\u3000 ", CleanTarget: " a", CorruptedTarget: " b"}, "corrupted", []string{"corrupted text is only whitespace"}},
		{"1 MB", analysis.Request{Clean: big, Corrupted: "x", CleanTarget: " a", CorruptedTarget: " b"}, "clean", []string{"clean text is 1.0 MB", "context of 1024 tokens"}},
		{"1 MB of one word", analysis.Request{Clean: "x", Corrupted: strings.Repeat("a", 1<<20), CleanTarget: " a", CorruptedTarget: " b"}, "corrupted", []string{"corrupted text is 1.0 MB", "context of 1024"}},
		{"1 MB whitespace", analysis.Request{Clean: strings.Repeat(" \n", 1<<19), Corrupted: "x", CleanTarget: " a", CorruptedTarget: " b"}, "clean", []string{"only whitespace"}},
		{"1 MB target", analysis.Request{Clean: "a b", Corrupted: "a c", CleanTarget: big, CorruptedTarget: " b"}, "clean_target", []string{"clean target is 1.0 MB", "single token"}},
		{"over the context, not cut", analysis.Request{Clean: strings.Repeat(" a", 2000), Corrupted: "x", CleanTarget: " a", CorruptedTarget: " b"}, "clean", []string{"2000 tokens", "context of 1024"}},
	}
	for _, c := range cases {
		t0 := time.Now()
		tk := e.Tokenize(c.req)
		took := time.Since(t0)
		if tk.Error == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if tk.Error.Field != c.field {
			t.Errorf("%s: the error is of %q, want %q (%s)", c.name, tk.Error.Field, c.field, tk.Error.Msg)
		}
		for _, s := range c.says {
			if !strings.Contains(tk.Error.Msg, s) {
				t.Errorf("%s: %q does not say %q", c.name, tk.Error.Msg, s)
			}
		}
		if len(tk.Error.Msg) > 2000 {
			t.Errorf("%s: a message of %d bytes", c.name, len(tk.Error.Msg))
		}
		for _, l := range [][]analysis.Token{tk.Clean, tk.Corrupted, tk.CleanTarget, tk.CorruptedTarget} {
			if len(l) > 1024 {
				t.Errorf("%s: %d tokens returned", c.name, len(l))
			}
		}
		t.Logf("%s (%v): %s", c.name, took.Round(time.Microsecond), tk.Error.Msg[:min(len(tk.Error.Msg), 140)])
	}
	if tk := e.Tokenize(cases[2].req); tk.CleanCount != -1 || tk.CorruptedCount != 1 {
		t.Errorf("1 MB: counts %d, %d; want -1 (more than the context), 1", tk.CleanCount, tk.CorruptedCount)
	}
	if tk := e.Tokenize(cases[6].req); tk.CleanCount != 2000 || len(tk.Clean) != 1024 {
		t.Errorf("2000 tokens: count %d, %d shown; want 2000, 1024", tk.CleanCount, len(tk.Clean))
	}

	// Control characters are bytes like any other to GPT-2's tokenizer: they
	// tokenize, and a run may use them.
	ctrl := analysis.Request{Clean: "a\x00b\x1b[31m\x7f\u202e x", Corrupted: "a\x00b\x1b[31m\x7f\u202e y", CleanTarget: "\x00", CorruptedTarget: " b"}
	tk := e.Tokenize(ctrl)
	if tk.Error != nil || tk.CleanCount != tk.CorruptedCount || len(tk.Differ) != 1 || len(tk.CleanTarget) != 1 {
		t.Errorf("control characters: %+v", tk)
	}
}

// TestCheckNotGPT2 checks a safetensors file with one random tensor: the
// header check refuses it, naming the file, as loading and converting do.
func TestCheckNotGPT2(t *testing.T) {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, []safetensors.NamedTensor{{Name: "random", DType: "F32", Shape: []int{2, 2}, Data: make([]byte, 16)}}); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(buf.Bytes())
	if _, err := Check(r, int64(buf.Len()), "random.safetensors", nil); err == nil || !strings.Contains(err.Error(), "random.safetensors") {
		t.Errorf("Check: %v", err)
	}
	if _, err := NewEngine().LoadSafetensors(r, int64(buf.Len()), "random.safetensors", nil); err == nil || !strings.Contains(err.Error(), "random.safetensors") {
		t.Errorf("LoadSafetensors: %v", err)
	}
	if err := Convert(t.Context(), r, int64(buf.Len()), "random.safetensors", nil, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "random.safetensors") {
		t.Errorf("Convert: %v", err)
	}
	if _, err := Check(strings.NewReader("<!doctype html>"), 15, "page.safetensors", nil); err == nil || !strings.Contains(err.Error(), "page.safetensors") {
		t.Errorf("Check of HTML: %v", err)
	}
	f, err := os.Open(filepath.Join(tiny, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if c, err := Check(f, st.Size(), "model.safetensors", nil); err != nil || c.Layers != 4 {
		t.Errorf("Check of the fixture: %+v, %v", c, err)
	}
}

// TestCheckMisshapen: a checkpoint with GPT-2's names but one tensor of the
// wrong shape is refused by the header check already, before the page lets
// go of its model.
func TestCheckMisshapen(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(tiny, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(bytes.NewReader(data), int64(len(data)), "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var tensors []safetensors.NamedTensor
	for _, name := range f.Names() {
		tt := f.Tensors[name]
		b, err := f.Bytes(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "h.0.ln_1.weight" {
			tt.Shape, b = []int{3}, b[:12]
		}
		tensors = append(tensors, safetensors.NamedTensor{Name: name, DType: tt.DType, Shape: tt.Shape, Data: b})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, tensors); err != nil {
		t.Fatal(err)
	}
	_, err = Check(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "odd.safetensors", nil)
	if err == nil || !strings.Contains(err.Error(), "h.0.ln_1.weight") || !strings.Contains(err.Error(), "odd.safetensors") {
		t.Fatalf("got %v, want an error naming the tensor and the file", err)
	}
}

// TestPageTokenLimit: a pair longer than MaxPageTokens (but within the
// model's context) is refused by the live check and by Start, with a message
// that points to the command line.
func TestPageTokenLimit(t *testing.T) {
	e := NewEngine() // GPT-2 small's context of 1024 before a model loads
	long := strings.Repeat(" word", MaxPageTokens+1)
	req := michelle
	req.Clean, req.Corrupted = "A"+long, "B"+long
	tk := e.Tokenize(req)
	if tk.Error == nil || tk.Error.Reason != "too_long" || !strings.Contains(tk.Error.Msg, "command line") {
		t.Fatalf("live check: %+v", tk.Error)
	}
	req.Clean, req.Corrupted = "A"+long[:len(long)-10], "B"+long[:len(long)-10]
	if tk := e.Tokenize(req); tk.Error != nil {
		t.Fatalf("within the limit: %v", tk.Error)
	}
}
