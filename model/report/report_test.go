package report

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/weights"
)

// michelle is the Michelle example's record on the tiny model, whose
// clean top-20 starts with a lone byte of a UTF-8 character ("�").
func michelle(t *testing.T) Kit {
	t.Helper()
	path, err := fixture.TinyModel()
	if err != nil {
		t.Fatal(err)
	}
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := bpe.New()
	a, err := analysis.New(m, tok, analysis.Request{
		Clean: "Michelle Jones was a top-notch student. Michelle", Corrupted: "Michelle Smith was a top-notch student. Michelle",
		CleanTarget: " Jones", CorruptedTarget: " Smith",
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := a.Record(tok, nil, patch.LogitDiff)
	if err != nil {
		t.Fatal(err)
	}
	return Kit{Record: rec, Model: ModelName(m.Config, 0), Metric: patch.LogitDiff, Direction: Denoising,
		Heatmaps: []Heatmap{{File: "heatmap", Site: patch.Site{Kind: gpt2.ResidPost}, WithEmbed: true, Rows: "layer", Cols: "position"}}}
}

// nasty is a record whose texts and tokens hold every character Markdown
// or LaTeX treats specially, spaces, a line break and characters beyond
// Latin-1.
func nasty() Kit {
	toks := []string{`\`, "{", "}", "$", "&", "#", "%", "_", "^", "~", "<", ">", "|", `"`, "`", "'", "--", "\n", " 日本", "�", " é", "  ", "*", "[x](y)", "**"}
	var ids []int
	var top []analysis.TopEntry
	for i, s := range toks {
		ids = append(ids, 1000+i)
		if i < 20 {
			top = append(top, analysis.TopEntry{1000 + i, s, 0.05 - float64(i)*0.001})
		}
	}
	corrupted := append([]string{}, toks...)
	corrupted[3] = " dollars"
	cids := append([]int{}, ids...)
	cids[3] = 7
	rec := &analysis.Record{
		Clean: `50% of {x} & $y_1^2$ ~ #1 | "q" \end`, Corrupted: "a\nb — “c” → d",
		CleanTarget: " &", CorruptedTarget: " |", CleanTokens: toks, CorruptedTokens: corrupted, CleanIDs: ids, CorruptedIDs: cids,
		CleanTop20: top, CorruptedTop20: top, CleanLogitDiff: -1.5, CorruptedLogitDiff: 2.25,
	}
	return Kit{Record: rec, Model: ModelName(gpt2.Small, 13), Metric: patch.Normalized,
		Heatmaps: []Heatmap{{File: "heatmap-z", Site: patch.Site{Kind: gpt2.Z}, Rows: "layer", Cols: "head (patched at every position)"}}}
}

// TestCaption: the caption names model, texts, targets, site, metric and
// direction.
func TestCaption(t *testing.T) {
	k := michelle(t)
	got := k.Caption(k.Heatmaps[0], plain)
	for _, want := range []string{"Denoising activation patching", "resid_post (and embed", "a 4-layer test model (float32)",
		"“Michelle Smith was a top-notch student. Michelle”", "“Michelle Jones was a top-notch student. Michelle”",
		"clean target “ Jones”", "corrupted target “ Smith”", "logit(“ Smith”) − logit(“ Jones”)", "layer", "position"} {
		if !strings.Contains(got, want) {
			t.Errorf("caption lacks %q: %s", want, got)
		}
	}
	if unquoted := regexp.MustCompile(`“[^”]*”`).ReplaceAllString(got, "“…”"); strings.Contains(unquoted, ". ") || !strings.HasSuffix(got, ").") {
		t.Errorf("not one sentence: %s", got)
	}
	if n := nasty(); !strings.Contains(n.Caption(n.Heatmaps[0], plain), "GPT-2 small (web format, 13-bit codes)") || !strings.Contains(n.Caption(n.Heatmaps[0], plain), "normalized") {
		t.Errorf("caption: %s", n.Caption(n.Heatmaps[0], plain))
	}
}

// mdTable is a Markdown table as a renderer reads it.
type mdTable struct {
	head []string
	rows [][]string
}

var separator = regexp.MustCompile(`^\|( *:?-+:? *\|)+$`)

// parseTables reads the GFM tables of a document: a header row, then a
// separator row with as many columns, then rows with as many cells, split
// at the pipes no backslash escapes.
func parseTables(t *testing.T, doc string) []mdTable {
	t.Helper()
	lines := strings.Split(doc, "\n")
	var out []mdTable
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "|") {
			continue
		}
		head := splitRow(lines[i])
		if i+1 >= len(lines) || !separator.MatchString(lines[i+1]) || len(splitRow(lines[i+1])) != len(head) {
			t.Errorf("line %d: a table row without a separator row of %d columns under it: %q", i+1, len(head), lines[i:min(i+2, len(lines))])
		}
		tab := mdTable{head: head}
		for i += 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
			cells := splitRow(lines[i])
			if len(cells) != len(head) {
				t.Errorf("line %d: %d cells, the header has %d: %q", i+1, len(cells), len(head), lines[i])
			}
			tab.rows = append(tab.rows, cells)
		}
		if i < len(lines) && lines[i] != "" {
			t.Errorf("line %d: no blank line after the table: %q", i+1, lines[i])
		}
		out = append(out, tab)
	}
	return out
}

func splitRow(line string) []string {
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || strings.HasSuffix(line, `\|`) {
		return nil
	}
	var cells []string
	var cur strings.Builder
	body := line[1 : len(line)-1]
	for i := 0; i < len(body); i++ {
		switch {
		case body[i] == '\\' && i+1 < len(body):
			cur.WriteString(body[i : i+2])
			i++
		case body[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(body[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// unescape is a cell's text as rendered: backslash escapes resolved, bold
// markers dropped, ␣ as the space it stands for.
func unescape(cell string) string {
	cell = strings.TrimSuffix(strings.TrimPrefix(cell, "**"), "**")
	var b strings.Builder
	for i := 0; i < len(cell); i++ {
		if cell[i] == '\\' && i+1 < len(cell) && cell[i+1] < 0x80 && isPunct(cell[i+1]) {
			i++
		} else if cell[i] == '*' || cell[i] == '_' || cell[i] == '`' || cell[i] == '[' || cell[i] == '<' {
			return "UNESCAPED " + cell // would render as markup
		}
		b.WriteByte(cell[i])
	}
	return strings.ReplaceAll(b.String(), "␣", " ")
}

func isPunct(c byte) bool { return strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0 }

// TestMarkdownTables: tables.md holds three tables that parse as tables,
// whose token cells read back as the record's tokens.
func TestMarkdownTables(t *testing.T) {
	for _, k := range []Kit{michelle(t), nasty()} {
		doc := k.Markdown()
		tabs := parseTables(t, doc)
		if len(tabs) != 3 {
			t.Fatalf("%d tables, want 3:\n%s", len(tabs), doc)
		}
		r := k.Record
		for i, want := range [][]analysis.TopEntry{r.CleanTop20, r.CorruptedTop20} {
			tab := tabs[i]
			if strings.Join(tab.head, ",") != "Rank,Token index,Token,Probability" || len(tab.rows) != len(want) {
				t.Errorf("top table %d: head %q, %d rows", i, tab.head, len(tab.rows))
				continue
			}
			for j, row := range tab.rows {
				if got := unescape(row[2]); got != visibleControls(want[j][1].(string)) {
					t.Errorf("top table %d row %d: token %q reads %q, want %q", i, j, row[2], got, want[j][1])
				}
			}
		}
		tok := tabs[2]
		if len(tok.rows) != len(r.CleanTokens) || len(tok.head) != 5 {
			t.Fatalf("tokens table: %q, %d rows", tok.head, len(tok.rows))
		}
		for j, row := range tok.rows {
			differ := r.CleanIDs[j] != r.CorruptedIDs[j]
			if unescape(row[1]) != visibleControls(r.CleanTokens[j]) || unescape(row[3]) != visibleControls(r.CorruptedTokens[j]) || strings.HasPrefix(row[1], "**") != differ {
				t.Errorf("tokens row %d: %q", j, row)
			}
		}
	}
}

// visibleControls is a token as the tables show it, but with spaces.
func visibleControls(s string) string { return strings.ReplaceAll(visible(s), "␣", " ") }

// TestLaTeXCompiles compiles tables.tex and heatmap.tex in a document with
// pdfLaTeX, for the Michelle record and one of special characters.
func TestLaTeXCompiles(t *testing.T) {
	pdflatex, err := exec.LookPath("pdflatex")
	if err != nil {
		t.Skip("pdflatex is not installed (Debian: apt-get install texlive-latex-base texlive-latex-recommended): the LaTeX tables are not compiled")
	}
	if out, err := exec.Command("kpsewhich", "booktabs.sty").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Skip("booktabs.sty is not installed (Debian: apt-get install texlive-latex-recommended): the LaTeX tables are not compiled")
	}
	for i, k := range []Kit{michelle(t), nasty()} {
		dir := t.TempDir()
		for _, f := range k.Files() {
			if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		h := k.Heatmaps[0].File
		var img bytes.Buffer
		if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 16, 10))); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, h+".png"), img.Bytes(), 0o644)
		doc := "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n\\input{tables}\n\\input{" + h + "}\n\\end{document}\n"
		if err := os.WriteFile(filepath.Join(dir, "doc.tex"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("kit %d: pdflatex: %v\n%s\n--- tables.tex:\n%s", i, err, tail(out), k.LaTeX())
			continue
		}
		if log, _ := os.ReadFile(filepath.Join(dir, "doc.log")); bytes.Contains(log, []byte("Missing character")) {
			t.Errorf("kit %d: characters missing from the fonts:\n%s", i, log)
		}
		if st, err := os.Stat(filepath.Join(dir, "doc.pdf")); err != nil || st.Size() == 0 {
			t.Errorf("kit %d: no PDF: %v", i, err)
		}
	}
}

func tail(b []byte) []byte { return b[max(0, len(b)-3000):] }
