package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCancelledSweepWritesNothing: an interrupted sweep exits 130 and
// leaves no output (and an existing file untouched).
func TestCancelledSweepWritesNothing(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "out.json")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, out, errs := patchlabCtx(t, ctx, sweepArgs("-json", old, "-png", filepath.Join(dir, "out.png"), "-csv", filepath.Join(dir, "out.csv"))...)
	if code != exitInterrupted || !strings.Contains(errs, "interrupted") {
		t.Errorf("status %d, stderr %q", code, errs)
	}
	if strings.Contains(out, "wrote") {
		t.Errorf("output %q", out)
	}
	if got := strings.Join(files(t, dir), " "); got != "out.json" {
		t.Errorf("files %q, want only the old out.json", got)
	}
	if b, _ := os.ReadFile(old); string(b) != "old" {
		t.Errorf("out.json changed to %q", b)
	}
}

// TestOutputsAtomic: a failing writer, an abort and a cancelled commit
// leave nothing behind; a commit renames every file into place.
func TestOutputsAtomic(t *testing.T) {
	dir := t.TempDir()
	var o outputs
	if err := o.add(filepath.Join(dir, "a.txt"), func(w io.Writer) error { _, err := io.WriteString(w, "a"); return err }); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("disk on fire")
	if err := o.add(filepath.Join(dir, "b.txt"), func(w io.Writer) error { io.WriteString(w, "half"); return fail }); !errors.Is(err, fail) {
		t.Errorf("add: %v, want the writer's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("commit: %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("left %q", got)
	}
	if err := o.add(filepath.Join(dir, "sub", "c.txt"), func(w io.Writer) error { _, err := io.WriteString(w, "c"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := o.commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sub", "c.txt")); err != nil || string(b) != "c" {
		t.Errorf("c.txt: %q %v", b, err)
	}
	if got := files(t, filepath.Join(dir, "sub")); len(got) != 1 {
		t.Errorf("sub holds %q", got)
	}
}
