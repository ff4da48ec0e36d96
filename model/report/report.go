// Package report writes the text of a student's report kit from an
// analysis record: the two top-20 tables and both tokenizations as
// Markdown and as LaTeX (booktabs), and the caption sentence of each
// heatmap. The CLI (sweep -report) and the page (its zip download) both
// call it, so that they hold the same text.
package report

import (
	"fmt"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Kit is what the text describes.
type Kit struct {
	Record *analysis.Record
	// Model names the model, as ModelName does.
	Model  string
	Metric patch.Metric
	// Direction is how the sweep patched: "denoising" (the corrupted run
	// with one clean activation), the only one so far.
	Direction string
	Heatmaps  []Heatmap
}

// Heatmap is one heatmap of the kit: its files' name without extension
// (heatmap.png, heatmap.svg beside heatmap.tex and heatmap.txt) and its site.
type Heatmap struct {
	File string
	Site patch.Site
	// WithEmbed: resid_post's figure has the embed row on top.
	WithEmbed bool
	// Rows and Cols are the row and column axes' names (the site table's
	// Layout: "layer", "position"…).
	Rows, Cols string
}

// Denoising is the direction of every sweep so far.
const Denoising = "denoising"

// File is one text file of the kit.
type File struct {
	Name string
	Text string
}

// Files is the kit's text: tables.md and tables.tex (the top-20 tables and
// the tokenizations), and for each heatmap its caption sentence (.txt) and
// a LaTeX figure that includes its PNG under that caption (.tex).
func (k Kit) Files() []File {
	out := []File{{"tables.md", k.Markdown()}, {"tables.tex", k.LaTeX()}}
	for _, h := range k.Heatmaps {
		out = append(out, File{h.File + ".txt", k.Caption(h, plain) + "\n"}, File{h.File + ".tex", k.Figure(h)})
	}
	return out
}

// ModelName names a model for a caption: "GPT-2 small (float32)", "GPT-2
// small (web format, 13-bit codes)", or its shape when it is another GPT-2.
func ModelName(c gpt2.Config, bits int) string {
	name := c.Name()
	if bits > 0 {
		return fmt.Sprintf("%s (web format, %d-bit codes)", name, bits)
	}
	return name + " (float32)"
}

// style is how text is written: Markdown (or plain) or LaTeX.
type style struct {
	text  func(string) string // ordinary text
	quote func(string) string // a quoted text, its spaces as they are
	token func(string) string // a token, its spaces visible
	bold  func(string) string
}

var (
	plain = style{
		text:  func(s string) string { return s },
		quote: func(s string) string { return "“" + analysis.OneLine(s) + "”" },
		token: func(s string) string { return "“" + visible(s) + "”" },
		bold:  func(s string) string { return s },
	}
	markdown = style{
		text:  escapeMarkdown,
		quote: func(s string) string { return "“" + escapeMarkdown(analysis.OneLine(s)) + "”" },
		token: func(s string) string { return escapeMarkdown(visible(s)) },
		bold:  func(s string) string { return "**" + s + "**" },
	}
	latex = style{
		text:  escapeLaTeX,
		quote: func(s string) string { return "``" + escapeLaTeX(analysis.OneLine(s)) + "''" },
		token: func(s string) string { return `\texttt{` + latexToken(s) + `}` },
		bold:  func(s string) string { return `\textbf{` + s + `}` },
	}
)

// Caption is a heatmap's caption: model, texts, targets, site, metric and
// direction in one sentence.
func (k Kit) Caption(h Heatmap, st style) string {
	r := k.Record
	site := h.Site.String()
	if h.WithEmbed {
		site += " (and embed, the top row)"
	}
	t, q := st.text, st.quote
	return t(capitalise(k.direction())+" activation patching of "+site+" in "+k.Model+": each cell is one run of the corrupted text ") + q(r.Corrupted) +
		t(" with the activation at the row's "+h.Rows+" and the column's "+h.Cols+" replaced by the clean text's (") + q(r.Clean) +
		t("), coloured by ") + k.metricText(st) + t(" at the last position, with the clean target ") + q(r.CleanTarget) +
		t(" and the corrupted target ") + q(r.CorruptedTarget) +
		t(" (unpatched logit difference: clean run "+number(r.CleanLogitDiff)+", corrupted run "+number(r.CorruptedLogitDiff)+").")
}

func (k Kit) direction() string {
	if k.Direction == "" {
		return Denoising
	}
	return k.Direction
}

// metricText says what the colour is.
func (k Kit) metricText(st style) string {
	r := k.Record
	t := st.text
	logit := func(target string) string { return t("logit(") + st.quote(target) + t(")") }
	diff := logit(r.CorruptedTarget) + t(" − ") + logit(r.CleanTarget)
	switch k.Metric {
	case patch.CleanTargetDelta:
		return t("clean_target_delta, ") + logit(r.CleanTarget) + t(" minus its value in the clean run")
	case patch.Normalized:
		return t("the normalized logit difference (") + diff + t(" scaled to 0 at the corrupted run and 1 at the clean run)")
	case patch.ProbDiff:
		return t("prob_diff, p(") + st.quote(r.CorruptedTarget) + t(") − p(") + st.quote(r.CleanTarget) + t(")")
	}
	return t("the logit difference ") + diff
}

// number writes v to 3 decimals with a minus sign (−), not a hyphen.
func number(v float64) string { return strings.Replace(fmt.Sprintf("%.3f", v), "-", "−", 1) }

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// visible shows a token's spaces as ␣ and its control characters as
// escapes (\n, \t, \x00).
func visible(s string) string { return strings.ReplaceAll(analysis.OneLine(s), " ", "␣") }
