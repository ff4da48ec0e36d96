package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/patch"
)

// printRuns prints both tokenizations, the targets and both top-20 tables.
func printRuns(w io.Writer, tok *bpe.Tokenizer, a *analysis.Analysis) {
	s := a.Session
	fmt.Fprintf(w, "Clean:     %s\n  %d tokens: %s\n", analysis.OneLine(a.Clean), len(a.CleanTokens), analysis.OneLine(analysis.Join(a.CleanTokens)))
	fmt.Fprintf(w, "Corrupted: %s\n  %d tokens: %s\n", analysis.OneLine(a.Corrupted), len(a.CorruptedTokens), analysis.OneLine(analysis.Join(a.CorruptedTokens)))
	fmt.Fprintf(w, "Targets: clean %q (%d), corrupted %q (%d)\n", a.CleanTarget, a.CleanTargetID, a.CorruptedTarget, a.CorruptedTargetID)
	diff := fmt.Sprintf("logit(%q) − logit(%q)", a.CorruptedTarget, a.CleanTarget)
	fmt.Fprintf(w, "\nClean run, next token after %q (%s = %.4f):\n", lastText(a.CleanTokens), diff, s.CleanBase.Diff())
	printTop(w, tok, a.CleanTop)
	fmt.Fprintf(w, "\nCorrupted run, next token after %q (%s = %.4f):\n", lastText(a.CorruptedTokens), diff, s.CorruptedBase.Diff())
	printTop(w, tok, a.CorruptedTop)
	fmt.Fprintln(w)
}

func lastText(ts []analysis.Token) string { return ts[len(ts)-1].Text }

// printTop prints a probability table (rank, token index, token,
// probability) as an aligned Markdown table.
func printTop(w io.Writer, tok *bpe.Tokenizer, probs []patch.Prob) {
	rows := [][]string{{"Rank", "Token index", "Token", "Probability"}}
	for i, p := range probs {
		rows = append(rows, []string{fmt.Sprint(i + 1), fmt.Sprint(p.ID), cellText(tok.DecodeToken(p.ID)), fmt.Sprintf("%.4f", p.P)})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for c, s := range r {
			widths[c] = max(widths[c], utf8.RuneCountInString(s))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		for c, s := range r {
			fmt.Fprintf(&b, "| %s%s ", s, strings.Repeat(" ", widths[c]-utf8.RuneCountInString(s)))
		}
		fmt.Fprintln(w, b.String()+"|")
	}
	line(rows[0])
	dashes := make([]string, len(widths))
	for c, n := range widths {
		dashes[c] = strings.Repeat("-", n)
	}
	line(dashes)
	for _, r := range rows[1:] {
		line(r)
	}
}

// cellText makes a token printable in one cell of a Markdown table.
func cellText(s string) string { return strings.ReplaceAll(analysis.OneLine(s), "|", `\|`) }

// printView prints a view's values as an aligned text table.
func printView(w io.Writer, v view, met patch.Metric) {
	fmt.Fprintf(w, "%s (%s), rows: %s, columns: %s\n", v.name, met, v.rowTitle, v.colTitle)
	for c, l := range v.colLabels {
		fmt.Fprintf(w, "  %3d: %s\n", c, analysis.OneLine(l))
	}
	width := 0
	for _, l := range v.rowLabels {
		width = max(width, len(l))
	}
	fmt.Fprintf(w, "%*s", width, "")
	for c := range v.colLabels {
		fmt.Fprintf(w, " %8d", c)
	}
	fmt.Fprintln(w)
	for r, row := range v.vals {
		fmt.Fprintf(w, "%*s", width, v.rowLabels[r])
		for _, x := range row {
			fmt.Fprintf(w, " %8.4f", x)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}
