package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/inspect"
	"github.com/patchlab/patchlab/model/patch"
)

const inspectAbout = `
Runs the clean and the corrupted text (which must have the same number of
tokens) and looks inside both runs, with no patching:

  attention      every head's attention pattern: how much each position
                 (query, a row) reads each earlier position (key, a column)
  logit lens     the metric logit(corrupted target) − logit(clean target)
                 read from the residual stream itself after every layer
                 (final LayerNorm with that vector's own mean and scale, then
                 the unembedding), at every position, and the token that
                 layer would predict there (top-1 over the whole vocabulary)
  attribution    direct logit attribution at the last position: what each
                 component writing the residual stream (the embedding, each
                 layer's attention and MLP output, each head, the final
                 LayerNorm's bias) adds to the metric; the parts sum to it

It prints both tokenizations and top-20 tables, the attribution table and
the lens matrix with its top-1 tokens, and writes the outputs asked for.

Outputs (each written atomically, all at the end; an interrupted or failed
run writes none):
  -json F   ids, tokens, top-20 tables and the views with the field names of
            the fixtures' views-golden.json: attn_pattern_clean
            [layer][head][query][key], logit_lens_clean [L+1][position]
            (row 0 the embedding), logit_lens_top1_clean (token ids),
            dla_clean {embed, attn_out, mlp_out, heads, attn_bias,
            ln_final_bias, total}, and the same for _corrupted.
  -csv F    one file per table, its name inserted before the extension:
            F-dla.csv (components × runs), F-dla_heads_clean.csv,
            F-logit_lens_clean.csv, F-logit_lens_top1_clean.csv (tokens),
            F-attn_pattern_clean.csv (rows layer.head query, columns key), and
            the same for corrupted.
  -png F, -svg F, -pdf F
            figures, 8×5 in, blue–white–red centred at 0 like sweep's:
            F-dla_clean (bars and heads grid), F-logit_lens_clean (top-1
            token in each cell), F-attn_pattern_clean-L0, -L1… (one grid of
            heads per layer), and the same for corrupted.

Exit status: 0 done, 1 internal error, 2 bad input (one line on stderr says
what to change), 130 interrupted.

Example:
  patchlab inspect -clean "Michelle Jones was a top-notch student. Michelle" \
    -corrupted "Michelle Smith was a top-notch student. Michelle" \
    -clean-target " Jones" -corrupted-target " Smith" -png michelle.png`

// inspectFlags is what inspect was asked.
type inspectFlags struct {
	model                    string
	req                      analysis.Request
	json, csv, png, svg, pdf string
	bits                     int
}

func runInspect(ctx context.Context, std *stdio, args []string) error {
	f := newFlags("inspect", "[-model M] -clean TEXT -corrupted TEXT -clean-target TOKEN -corrupted-target TOKEN [-json F] [-csv F] [-png F] [-svg F] [-pdf F] [-bits N]", inspectAbout)
	var o inspectFlags
	f.StringVar(&o.model, "model", "", modelFlagUsage)
	requestFlags(f, &o.req)
	f.StringVar(&o.json, "json", "", "write the views as JSON to `F`")
	f.StringVar(&o.csv, "csv", "", "write the tables as CSV, one file per table named after `F`")
	f.StringVar(&o.png, "png", "", "write the figures as PNG, one file per figure named after `F`")
	f.StringVar(&o.svg, "svg", "", "write the figures as SVG, one file per figure named after `F`")
	f.StringVar(&o.pdf, "pdf", "", "write the figures as PDF, one file per figure named after `F`")
	bitsFlag(f, &o.bits)
	pos, err := f.parse(args, std.out)
	if err != nil {
		return err
	}
	if err := f.wantArgs(pos, 0, "no arguments: give the texts with -clean and -corrupted"); err != nil {
		return err
	}
	if err := o.check(f); err != nil {
		return err
	}
	m, err := loadModel(o.model)
	if err != nil {
		return err
	}
	if m, err = withBits(m, o.bits); err != nil {
		return err
	}
	tok := bpe.New()
	a, err := analysis.New(m, tok, o.req)
	if err != nil {
		return err
	}
	printRuns(std.out, tok, a)
	views, err := inspectRuns(ctx, std.err, a.Session)
	if err != nil {
		return err
	}
	in := &inspection{a: a, tok: tok, rec: views}
	in.print(std.out)
	return o.write(ctx, std.out, in)
}

// check validates the flags before anything is loaded.
func (o *inspectFlags) check(f *flags) error {
	return checkRequest(f, o.req, o.bits, []string{"clean", "corrupted", "clean-target", "corrupted-target"},
		"inspect needs -clean, -corrupted, -clean-target and -corrupted-target", "inspect")
}

// inspectRuns computes every view of both runs; the lens's top-1 tokens,
// a pass over the vocabulary per cell, a row at a time with a progress bar.
func inspectRuns(ctx context.Context, stderr io.Writer, s *patch.Session) (*inspect.Record, error) {
	m, tg := s.Model, inspect.Targets{Clean: s.CleanTarget, Corrupted: s.CorruptedTarget}
	clean, corrupted := inspect.Inspect(m, s.Clean, tg), inspect.Inspect(m, s.Corrupted, tg)
	rows := inspect.LensRows(m)
	prog := newProgress(stderr, cellsUnit)
	defer prog.done()
	total := int64(2 * rows * s.T())
	var done int64
	top1 := func(tr *gpt2.Trace) ([][]int, error) {
		out := make([][]int, rows)
		for r := range out {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			out[r] = inspect.LensTop1(m, tr, r, 0, tr.T)
			done += int64(tr.T)
			prog.update("logit lens: top-1 tokens", done, total)
		}
		return out, nil
	}
	prog.update("logit lens: top-1 tokens", 0, total)
	cleanTop, err := top1(s.Clean)
	if err != nil {
		return nil, err
	}
	corruptedTop, err := top1(s.Corrupted)
	if err != nil {
		return nil, err
	}
	return &inspect.Record{
		AttnPatternClean: clean.Attn, LogitLensClean: clean.Lens, LogitLensTop1Clean: cleanTop, DLAClean: clean.DLA,
		AttnPatternCorrupted: corrupted.Attn, LogitLensCorrupted: corrupted.Lens, LogitLensTop1Corrupted: corruptedTop, DLACorrupted: corrupted.DLA,
	}, nil
}

// inspection is an analysis with its views, as the outputs show it.
type inspection struct {
	a   *analysis.Analysis
	tok *bpe.Tokenizer
	rec *inspect.Record
}

// runViews is one run's views with its name.
type runViews struct {
	name   string // clean or corrupted
	tokens []analysis.Token
	attn   [][][][]float32
	lens   [][]float64
	top1   [][]int
	dla    *inspect.DLA
}

func (in *inspection) runs() []runViews {
	r := in.rec
	return []runViews{
		{"clean", in.a.CleanTokens, r.AttnPatternClean, r.LogitLensClean, r.LogitLensTop1Clean, r.DLAClean},
		{"corrupted", in.a.CorruptedTokens, r.AttnPatternCorrupted, r.LogitLensCorrupted, r.LogitLensTop1Corrupted, r.DLACorrupted},
	}
}

func (in *inspection) layers() int { return len(in.rec.DLAClean.AttnOut) }

// metric is the metric's formula with the targets.
func (in *inspection) metric() string {
	return metricFormula(in.a, patch.LogitDiff)
}

// dlaRow is one line of the attribution table.
type dlaRow struct {
	label string
	vals  [2]float64 // clean, corrupted
}

// dlaRows lists the components in the order they write the residual stream,
// then the bias of the final LayerNorm, the sum of the parts and the run's metric.
func (in *inspection) dlaRows() []dlaRow {
	c, k := in.rec.DLAClean, in.rec.DLACorrupted
	rows := []dlaRow{{"embed", [2]float64{c.Embed, k.Embed}}}
	for l := range c.AttnOut {
		rows = append(rows,
			dlaRow{fmt.Sprintf("attn_out %d", l), [2]float64{c.AttnOut[l], k.AttnOut[l]}},
			dlaRow{fmt.Sprintf("mlp_out %d", l), [2]float64{c.MLPOut[l], k.MLPOut[l]}})
	}
	return append(rows,
		dlaRow{"ln_final_bias", [2]float64{c.LNFinalBias, k.LNFinalBias}},
		dlaRow{"sum of the parts", [2]float64{c.Sum(), k.Sum()}},
		dlaRow{"total (the run's metric)", [2]float64{c.Total, k.Total}})
}

// lensView is a run's logit lens as a view: rows embed, 0, 1, …
func (in *inspection) lensView(r runViews) view {
	return view{name: "logit_lens_" + r.name, rowTitle: "layer (residual stream after it)", colTitle: "position",
		rowLabels: append([]string{"embed"}, patch.Numbered("", in.layers())...),
		colLabels: analysis.PositionLabels(r.tokens, nil), vals: r.lens}
}

// headsView is a run's per-head attribution as a view: layers × heads.
func (in *inspection) headsView(r runViews) view {
	return view{name: "dla_heads_" + r.name, rowTitle: "layer", colTitle: "head",
		rowLabels: patch.Numbered("", in.layers()), colLabels: patch.Numbered("H", len(r.dla.Heads[0])), vals: r.dla.Heads}
}

// top1Text is the lens's top-1 tokens as text, [L+1][T].
func (in *inspection) top1Text(r runViews) [][]string {
	out := make([][]string, len(r.top1))
	for i, row := range r.top1 {
		for _, id := range row {
			out[i] = append(out[i], in.tok.DecodeToken(id))
		}
	}
	return out
}

// print writes the attribution table, the per-head attributions and each
// run's lens with its top-1 tokens.
func (in *inspection) print(w io.Writer) {
	fmt.Fprintf(w, "Direct logit attribution of %s at the last position:\n", in.metric())
	rows := in.dlaRows()
	width := 0
	for _, r := range rows {
		width = max(width, utf8.RuneCountInString(r.label))
	}
	fmt.Fprintf(w, "%-*s %10s %10s\n", width, "component", "clean", "corrupted")
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s %10.4f %10.4f\n", width, r.label, r.vals[0], r.vals[1])
	}
	fmt.Fprintln(w)
	for _, r := range in.runs() {
		fmt.Fprintf(w, "Direct logit attribution per head, %s run (rows: layer, columns: head):\n", r.name)
		printMatrix(w, in.headsView(r))
	}
	for _, r := range in.runs() {
		v := in.lensView(r)
		fmt.Fprintf(w, "Logit lens, %s run: %s read after each layer (rows) at each position (columns):\n", r.name, in.metric())
		for c, l := range v.colLabels {
			fmt.Fprintf(w, "  %3d: %s\n", c, analysis.OneLine(l))
		}
		printMatrix(w, v)
		fmt.Fprintf(w, "Logit lens, %s run: the top-1 token of each cell:\n", r.name)
		text := in.top1Text(r)
		cols := make([]int, len(text[0]))
		for _, row := range text {
			for c, s := range row {
				cols[c] = max(cols[c], utf8.RuneCountInString(strconv.Quote(s)))
			}
		}
		fmt.Fprintf(w, "%5s", "")
		for c := range cols {
			fmt.Fprintf(w, " %-*d", cols[c], c)
		}
		fmt.Fprintln(w)
		for i, row := range text {
			var b strings.Builder
			fmt.Fprintf(&b, "%5s", v.rowLabels[i])
			for c, s := range row {
				fmt.Fprintf(&b, " %-*s", cols[c], strconv.Quote(s))
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
		fmt.Fprintln(w)
	}
}

// printMatrix prints a view's values as an aligned table.
func printMatrix(w io.Writer, v view) {
	width := 0
	for _, l := range v.rowLabels {
		width = max(width, len(l))
	}
	fmt.Fprintf(w, "%*s", width, "")
	for c, l := range v.colLabels {
		if v.colTitle == "position" {
			l = strconv.Itoa(c) // the labels are listed above the table
		} else {
			l = "H" + l
		}
		fmt.Fprintf(w, " %8s", l)
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

// inspectJSON is the -json record: the analysis (ids, tokens, top-20
// tables, both runs' metric) and the views.
type inspectJSON struct {
	*analysis.Record
	viewsRecord
}

// viewsRecord names inspect.Record apart from analysis.Record, so that both embed.
type viewsRecord = inspect.Record

// write stages every requested output and renames them into place.
func (o *inspectFlags) write(ctx context.Context, stdout io.Writer, in *inspection) error {
	if o.json == "" && o.csv == "" && o.png == "" && o.svg == "" && o.pdf == "" {
		return nil
	}
	outs := &outputs{}
	defer outs.abort()
	if o.json != "" {
		base, err := in.a.Record(in.tok, nil, patch.LogitDiff)
		if err != nil {
			return err
		}
		if err := outs.add(o.json, func(w io.Writer) error { return writeJSON(w, inspectJSON{base, *in.rec}, true) }); err != nil {
			return err
		}
	}
	if o.csv != "" {
		if err := in.addCSVs(outs, o.csv); err != nil {
			return err
		}
	}
	for _, out := range []struct{ path, format string }{{o.png, "png"}, {o.svg, "svg"}, {o.pdf, "pdf"}} {
		if out.path == "" {
			continue
		}
		for _, fig := range in.figures() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := outs.add(perView(out.path, fig.name, true), func(w io.Writer) error { return fig.write(w, out.format) }); err != nil {
				return err
			}
		}
	}
	written, err := outs.commit(ctx)
	for _, p := range written {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return err
}

// addCSVs stages one CSV file per table.
func (in *inspection) addCSVs(outs *outputs, path string) error {
	add := func(name string, rows [][]string) error {
		return outs.add(perView(path, name, true), func(w io.Writer) error { return writeRecords(w, rows) })
	}
	dla := [][]string{{"component", "clean", "corrupted"}}
	for _, r := range in.dlaRows() {
		dla = append(dla, []string{r.label, number(r.vals[0]), number(r.vals[1])})
	}
	if err := add("dla", dla); err != nil {
		return err
	}
	for _, r := range in.runs() {
		if err := outs.add(perView(path, "dla_heads_"+r.name, true), func(w io.Writer) error { return writeCSV(w, in.headsView(r)) }); err != nil {
			return err
		}
		if err := outs.add(perView(path, "logit_lens_"+r.name, true), func(w io.Writer) error { return writeCSV(w, in.lensView(r)) }); err != nil {
			return err
		}
		v := in.lensView(r)
		top := [][]string{append([]string{"layer"}, v.colLabels...)}
		for i, row := range in.top1Text(r) {
			top = append(top, append([]string{v.rowLabels[i]}, row...))
		}
		if err := add("logit_lens_top1_"+r.name, top); err != nil {
			return err
		}
		cols := analysis.PositionLabels(r.tokens, nil)
		attn := [][]string{append([]string{"layer.head query"}, cols...)}
		for l, heads := range r.attn {
			for h, rows := range heads {
				for q, row := range rows {
					rec := []string{fmt.Sprintf("L%d.H%d %s", l, h, cols[q])}
					for _, p := range row {
						rec = append(rec, number(float64(p)))
					}
					attn = append(attn, rec)
				}
			}
		}
		if err := add("attn_pattern_"+r.name, attn); err != nil {
			return err
		}
	}
	return nil
}

// number formats a value as writeCSV does: every digit of a float32.
func number(x float64) string { return strconv.FormatFloat(x, 'g', 9, 64) }

func writeRecords(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}
