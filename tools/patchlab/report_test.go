package main

import (
	"bytes"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestReportKit: sweep -report DIR writes the kit — the heatmap as SVG and
// as a PNG 16 cm wide at 300 dpi, its caption and LaTeX figure, the tables
// as Markdown and LaTeX, the record as -json writes it — and the LaTeX
// compiles around the PNG where pdflatex is installed.
func TestReportKit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kit")
	js := filepath.Join(t.TempDir(), "a.json")
	code, out, errs := patchlab(t, sweepArgs("-report", dir, "-json", js)...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	got := strings.Join(files(t, dir), " ")
	if want := "heatmap.png heatmap.svg heatmap.tex heatmap.txt record.json tables.md tables.tex"; got != want {
		t.Fatalf("files %q, want %q", got, want)
	}
	if !strings.Contains(out, "wrote "+filepath.Join(dir, "heatmap.png")) {
		t.Errorf("output does not name the PNG: %q", out)
	}
	f, err := os.Open(filepath.Join(dir, "heatmap.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	// 16 cm at 300 dpi: 16 / 2.54 × 300 = 1889.8 pixels; 10 cm: 1181.1.
	if err != nil || format != "png" || cfg.Width != 1890 || cfg.Height != 1181 {
		t.Errorf("PNG: %v %s %dx%d, want png 1890x1181", err, format, cfg.Width, cfg.Height)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "heatmap.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`<svg[^>]*width="453\.5\d*pt"[^>]*height="283\.4\d*pt"`).Match(svg) || !bytes.Contains(svg, []byte("Michelle Smith was a top-notch student")) {
		t.Errorf("SVG is not 16 × 10 cm with the texts in its title: %q", svg[:min(len(svg), 400)])
	}
	if a, b := readJSON(t, js), readJSON(t, filepath.Join(dir, "record.json")); !reflect.DeepEqual(a, b) {
		t.Errorf("record.json differs from -json's record")
	}
	caption, err := os.ReadFile(filepath.Join(dir, "heatmap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Denoising", "resid_post", "(float32)", "“ Jones”", "“ Smith”", "logit(“ Smith”) − logit(“ Jones”)", michelle, michelleSmith} {
		if !bytes.Contains(caption, []byte(want)) {
			t.Errorf("caption lacks %q: %s", want, caption)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "tables.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(md, []byte("\n| --: | --: | --- | --: |\n")); n != 2 || !bytes.Contains(md, []byte("| **1** | **␣Jones** | **5437** | **␣Smith** | **4176** |")) {
		t.Errorf("tables.md: %d top-20 tables, or no bold differing token:\n%s", n, md)
	}

	pdflatex, err := exec.LookPath("pdflatex")
	if err != nil {
		t.Skip("pdflatex is not installed (Debian: apt-get install texlive-latex-base texlive-latex-recommended): the kit's LaTeX is not compiled")
	}
	if out, err := exec.Command("kpsewhich", "booktabs.sty").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Skip("booktabs.sty is not installed (Debian: apt-get install texlive-latex-recommended): the kit's LaTeX is not compiled")
	}
	doc := "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n\\input{heatmap}\n\\input{tables}\n\\end{document}\n"
	if err := os.WriteFile(filepath.Join(dir, "doc.tex"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("pdflatex: %v\n%s", err, b[max(0, len(b)-3000):])
	}
}
