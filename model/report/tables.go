package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
)

// table is a table before it is written: a title, column heads and
// alignments (l or r), rows of cells already in the output's style.
type table struct {
	title, label string
	head         []string
	align        string
	rows         [][]string
}

// tables are the kit's tables in st: both top-20 tables, then both tokenizations.
func (k Kit) tables(st style) []table {
	r := k.Record
	last := func(toks []string) string {
		if len(toks) == 0 {
			return ""
		}
		return toks[len(toks)-1]
	}
	top := func(run, text string, toks []string, entries []analysis.TopEntry, label string) table {
		t := table{
			title: st.text(fmt.Sprintf("%s run: the %d most probable next tokens after ", run, len(entries))) + st.quote(text) +
				st.text(" (after its last token, ") + st.token(last(toks)) + st.text(")"),
			label: label,
			head:  []string{"Rank", "Token index", "Token", "Probability"},
			align: "rrlr",
		}
		for i, e := range entries {
			id, _ := e[0].(int)
			if f, ok := e[0].(float64); ok { // a record read back from JSON
				id = int(f)
			}
			tok, _ := e[1].(string)
			p, _ := e[2].(float64)
			t.rows = append(t.rows, []string{strconv.Itoa(i + 1), strconv.Itoa(id), st.token(tok), fmt.Sprintf("%.4f", p)})
		}
		return t
	}
	toks := table{
		title: st.text(fmt.Sprintf("Tokenizations (%d and %d tokens; ␣ is a space; where they differ in bold)", len(r.CleanTokens), len(r.CorruptedTokens))),
		label: "tokens",
		head:  []string{"Position", "Clean token", "Clean index", "Corrupted token", "Corrupted index"},
		align: "rlrlr",
	}
	for i := range max(len(r.CleanTokens), len(r.CorruptedTokens)) {
		cell := func(ts []string, ids []int) (string, string) {
			if i >= len(ts) || i >= len(ids) {
				return "", ""
			}
			return st.token(ts[i]), strconv.Itoa(ids[i])
		}
		ct, ci := cell(r.CleanTokens, r.CleanIDs)
		xt, xi := cell(r.CorruptedTokens, r.CorruptedIDs)
		row := []string{strconv.Itoa(i), ct, ci, xt, xi}
		if ci != xi {
			for c := range row {
				row[c] = st.bold(row[c])
			}
		}
		toks.rows = append(toks.rows, row)
	}
	return []table{
		top("Clean", r.Clean, r.CleanTokens, r.CleanTop20, "top20-clean"),
		top("Corrupted", r.Corrupted, r.CorruptedTokens, r.CorruptedTop20, "top20-corrupted"),
		toks,
	}
}

// Markdown is the tables as GitHub-flavoured Markdown, under the heatmaps'
// captions.
func (k Kit) Markdown() string {
	var b strings.Builder
	b.WriteString("# Activation patching: tables\n\n")
	for _, h := range k.Heatmaps {
		fmt.Fprintf(&b, "Figure %s: %s\n\n", escapeMarkdown(h.File), k.Caption(h, markdown))
	}
	for _, t := range k.tables(markdown) {
		fmt.Fprintf(&b, "## %s\n\n", t.title)
		row := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
		row(t.head)
		sep := make([]string, len(t.head))
		for i := range sep {
			sep[i] = "---"
			if t.align[i] == 'r' {
				sep[i] = "--:"
			}
		}
		row(sep)
		for _, r := range t.rows {
			row(r)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// LaTeX is the tables as LaTeX table environments for \input, with
// booktabs rules.
func (k Kit) LaTeX() string {
	var b strings.Builder
	b.WriteString("% The tables of a patchlab analysis. Needs \\usepackage{booktabs} in the preamble;\n% \\input{tables} where they go.\n")
	for _, t := range k.tables(latex) {
		fmt.Fprintf(&b, "\n\\begin{table}[htbp]\n\\centering\n\\caption{%s}\n\\label{tab:%s}\n\\begin{tabular}{%s}\n\\toprule\n", t.title, t.label, t.align)
		b.WriteString(strings.Join(t.head, " & ") + " \\\\\n\\midrule\n")
		for _, r := range t.rows {
			b.WriteString(strings.Join(r, " & ") + " \\\\\n")
		}
		b.WriteString("\\bottomrule\n\\end{tabular}\n\\end{table}\n")
	}
	return b.String()
}

// Figure is a LaTeX figure showing the heatmap's PNG under its caption.
func (k Kit) Figure(h Heatmap) string {
	return fmt.Sprintf("%% A patchlab heatmap. Needs \\usepackage{graphicx} in the preamble; \\input{%s} where it goes.\n\\begin{figure}[htbp]\n\\centering\n\\includegraphics[width=\\linewidth]{%s.png}\n\\caption{%s}\n\\label{fig:%s}\n\\end{figure}\n",
		h.File, h.File, k.Caption(h, latex), h.File)
}

// escapeMarkdown backslash-escapes the characters that could start
// Markdown inline markup, an HTML entity or tag, math (GitHub renders
// $…$) or a table cell's end, so that text shows as it is. The text never
// starts a line, where # or - would matter.
func escapeMarkdown(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|~&$", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// latexSymbols are the characters pdfLaTeX needs spelt out.
var latexSymbols = map[rune]string{
	'\\': `\textbackslash{}`, '{': `\{`, '}': `\}`, '$': `\$`, '&': `\&`, '#': `\#`, '%': `\%`,
	'_': `\_`, '^': `\textasciicircum{}`, '~': `\textasciitilde{}`, '<': `\textless{}`, '>': `\textgreater{}`,
	'|': `\textbar{}`, '"': `{\ttfamily\char34}`, '`': `\textasciigrave{}`,
	'-': `-{}`, // not -- or ---
	'“': "``", '”': "''", '‘': "`", '’': "'", '–': "--", '—': "---", '−': `\ensuremath{-}`, '…': `\dots{}`,
	'→': `\textrightarrow{}`, '␣': `\textvisiblespace{}`, '\u00a0': `~`,
}

// escapeLaTeX writes text for pdfLaTeX with its default UTF-8 input:
// ASCII and Latin-1 letters as they are, special characters spelt out,
// anything else (which pdfLaTeX may lack a glyph for) as [U+XXXX].
func escapeLaTeX(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch sym, ok := latexSymbols[r]; {
		case ok:
			b.WriteString(sym)
		case r >= 0x20 && r < 0x7f, r >= 0xc0 && r <= 0xff && r != 0xd7 && r != 0xf7:
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "[U+%04X]", r)
		}
	}
	return b.String()
}

// latexToken is a token for \texttt: spaces visible, escaped, its
// apostrophes straight.
func latexToken(s string) string {
	return strings.ReplaceAll(escapeLaTeX(visible(s)), "'", `\textquotesingle{}`)
}
