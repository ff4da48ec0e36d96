package main

import (
	"bytes"
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFigures writes each figure format and checks that it parses as an
// image of the figure's size.
func TestFigures(t *testing.T) {
	dir := t.TempDir()
	png, svg, pdf := filepath.Join(dir, "f.png"), filepath.Join(dir, "f.svg"), filepath.Join(dir, "f.pdf")
	code, out, errs := patchlab(t, sweepArgs("-png", png, "-svg", svg, "-pdf", pdf)...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	if !strings.Contains(out, "wrote "+png) {
		t.Errorf("output does not name %s: %q", png, out)
	}
	f, err := os.Open(png)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil || format != "png" || cfg.Width != 1200 || cfg.Height != 750 {
		t.Errorf("PNG: %v %s %dx%d, want png 1200x750", err, format, cfg.Width, cfg.Height)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	head := string(b[:min(len(b), 600)])
	if !(strings.HasPrefix(head, "<?xml") || strings.HasPrefix(head, "<svg")) || !regexp.MustCompile(`<svg[^>]*width="576pt"[^>]*height="360pt"`).MatchString(head) {
		t.Errorf("SVG does not start as an 8×5 in SVG: %q", head)
	}
	if !bytes.Contains(b, []byte("Michelle")) {
		t.Errorf("SVG lacks the labels")
	}
	b, err = os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF")) || !bytes.Contains(b, []byte("%%EOF")) {
		t.Errorf("PDF: starts %q", b[:min(len(b), 10)])
	}
}

// TestFiguresPerSite checks the naming of several sites' figures.
func TestFiguresPerSite(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := patchlab(t, sweepArgs("-sites", "resid_post,embed,z", "-png", filepath.Join(dir, "out.png"), "-csv", filepath.Join(dir, "out.csv"))...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	got := strings.Join(files(t, dir), " ")
	if want := "out-resid_post.csv out-resid_post.png out-z.csv out-z.png"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
}

// TestPDFText: PDF text goes out in the PDF fonts' code page, symbols spelt
// out, accented letters kept, the rest "?".
func TestPDFText(t *testing.T) {
	got := toCP1252("Δ − 9 John→Mary, café 日…")
	want := "D - 9 John->Mary, caf\xe9 ?\x85"
	if got != want {
		t.Fatalf("toCP1252 = %q, want %q", got, want)
	}
}
