package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/patch"
)

// sweepAbout is sweep's help, with the site table's sites.
var sweepAbout = fmt.Sprintf(`
Runs the clean and the corrupted text (which must have the same number of
tokens), prints both tokenizations and both top-20 tables, then patches the
corrupted run with the clean run's activation at every cell of each site
(a progress bar on stderr) and writes the outputs.

Sites (TransformerLens names):
%s  all             all of the above
When both resid_post and embed are swept, the embed row is shown above
layer 0 in resid_post's figure and CSV (as "embed") rather than on its own.

Outputs (all written at the end; an interrupted or failed run writes none):
  -json F   the whole analysis: ids, tokens, top-20 tables, the logit
            difference of every cell (patch_* fields, as golden.json names
            them) and, with another -metric, that metric (matrices).
  -csv F    the chosen metric, per site: a header row "layer,<0 tok, 1 tok…>"
            then one row per layer (embed, 0…11, or L3.H2) with its values.
  -png F, -svg F, -pdf F
            heatmaps, 8×5 in: positions across, layer 0 at the top, a
            blue–white–red palette centred at 0 with a colour bar.
  -report DIR
            everything a report needs: heatmap.svg and heatmap.png (16 cm
            wide, 1890 pixels at 300 dpi), heatmap.txt (its caption) and
            heatmap.tex (a LaTeX figure with it), tables.md and tables.tex
            (both top-20 tables and both tokenizations; LaTeX with booktabs)
            and record.json (as -json).
When there are several sites (resid_post with embed counting as one), each
flag writes one file per site, its name inserted before the extension:
-png out.png gives out-resid_post.png, out-attn_out.png…; with one (as with
the default resid_post,embed) the file is F itself. z's columns are heads
(H0, H1…). Without any output flag the matrices are printed.

`+outputsHelp+`

Exit status: 0 done, 1 internal error, 2 bad input (one line on stderr says
what to change), 130 interrupted.

Metrics (the value of each cell of the patched run):
  logit_diff          logit(corrupted target) − logit(clean target)
  clean_target_delta  logit(clean target) − its value in the clean run
  normalized          (logit_diff − corrupted) / (clean − corrupted): 0 at the
                      corrupted run, 1 at the clean run
  prob_diff           p(corrupted target) − p(clean target)
%s
Example:
  patchlab sweep -clean "Michelle Jones was a top-notch student. Michelle" \
    -corrupted "Michelle Smith was a top-notch student. Michelle" \
    -clean-target " Jones" -corrupted-target " Smith" -png michelle.png
  patchlab sweep -pairs ioi:40 -seed 1 -json ioi.json -png ioi.png`, siteHelp(), designHelp)

// siteHelp lists the site table, one site a line.
func siteHelp() string {
	var b strings.Builder
	for _, e := range patch.Table {
		fmt.Fprintf(&b, "  %-15s %s\n", e.Name, e.Description)
	}
	return b.String()
}

// sweepFlags is what sweep was asked.
type sweepFlags struct {
	model, sites, metric     string
	req                      analysis.Request
	json, csv, png, svg, pdf string
	report                   string
	bits                     int
	siteList                 []patch.Site
	met                      patch.Metric
	design                          // direction, corruption, prompt set (sweepset.go)
	atp                      atpRun // -method, -neurons (atp.go)
}

func runSweep(ctx context.Context, std *stdio, args []string) error {
	f := newFlags("sweep", "[-model M] (-clean TEXT -corrupted TEXT -clean-target TOKEN -corrupted-target TOKEN | -pairs FILE.jsonl|ioi:N|factual:N) [-direction D] [-corruption text|noise] [-sites LIST] [-metric M] [-json F] [-csv F] [-png F] [-svg F] [-pdf F] [-report DIR] [-bits N]", sweepAbout)
	var o sweepFlags
	f.StringVar(&o.model, "model", "", modelFlagUsage)
	requestFlags(f, &o.req)
	f.StringVar(&o.sites, "sites", "resid_post,embed", "comma-separated `sites` to sweep, or all")
	f.StringVar(&o.metric, "metric", "logit_diff", "the `metric`: logit_diff, clean_target_delta, normalized or prob_diff")
	f.StringVar(&o.json, "json", "", "write the analysis as JSON to `F`")
	f.StringVar(&o.csv, "csv", "", "write the metric's matrices as CSV to `F` (one file per site)")
	f.StringVar(&o.png, "png", "", "write the heatmaps as PNG to `F` (one file per site)")
	f.StringVar(&o.svg, "svg", "", "write the heatmaps as SVG to `F` (one file per site)")
	f.StringVar(&o.pdf, "pdf", "", "write the heatmaps as PDF to `F` (one file per site)")
	f.StringVar(&o.report, "report", "", "write everything a report needs into `DIR`: the heatmaps as SVG and PNG (16 cm at 300 dpi), their captions and LaTeX figures, the tables as Markdown and LaTeX, the JSON record")
	bitsFlag(f, &o.bits)
	o.design.flags(f)
	o.atp.flags(f)
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
	if err := o.design.check(f); err != nil {
		return err
	}
	if err := o.atp.check(&o); err != nil {
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
	if o.design.isSet() {
		return o.runSet(ctx, std, m, tok)
	}
	a, err := analysis.New(m, tok, o.req)
	if err != nil {
		return err
	}
	printRuns(o.textOut(std), tok, a)
	for _, w := range append(analysis.TargetWarnings(tok, o.req, a.CleanTokens, a.CorruptedTokens), a.RunWarnings()...) {
		fmt.Fprintf(std.err, "warning: %s\n", w.Msg)
	}
	if _, err := o.met.Value(a.Session.CleanBase, a.Session.CleanBase, a.Session.CorruptedBase); err != nil {
		return asInput(err) // e.g. normalized with equal baselines
	}
	if err := o.atp.estimate(ctx, o.textOut(std), a); err != nil {
		return err
	}
	var swept []sweptSite
	if o.atp.exact() {
		if swept, err = sweepSites(ctx, std.err, a.Session, o.siteList, o.met, o.dir); err != nil {
			return err
		}
	}
	o.atp.compare(o.textOut(std), a, o.siteList, o.met, makeViews(a, swept))
	return o.write(ctx, std.out, std.err, tok, a, swept)
}

// check validates the flags before anything is loaded.
func (o *sweepFlags) check(f *flags) error {
	needs, what := o.design.needs()
	if err := checkRequest(f, o.req, o.bits, needs, what, "sweep"); err != nil {
		return err
	}
	var err error
	if o.siteList, err = parseSites(o.sites); err != nil {
		return err
	}
	if o.met, err = patch.ParseMetric(o.metric); err != nil {
		return asInput(err)
	}
	return checkOutputs(o.json, o.csv, o.png, o.svg, o.pdf)
}

// textOut is where the text report goes: stderr when an output is stdout.
func (o *sweepFlags) textOut(std *stdio) io.Writer {
	if slices.Contains([]string{o.json, o.csv, o.png, o.svg, o.pdf}, "-") {
		return std.err
	}
	return std.out
}

// parseSites reads -sites: names separated by commas, or all.
func parseSites(list string) ([]patch.Site, error) {
	var out []patch.Site
	seen := map[patch.Site]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		add := patch.Sites
		if name != "all" {
			s, err := patch.ParseSite(name)
			add = []patch.Site{s}
			if err != nil {
				add = nil
			}
		}
		if add == nil {
			return nil, inputf("unknown site %q in -sites (want a comma-separated list of %s, or all)", name, patch.SiteNames())
		}
		for _, s := range add {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// sweepSites sweeps each site in turn, with one progress bar for all cells.
func sweepSites(ctx context.Context, stderr io.Writer, s *patch.Session, sites []patch.Site, met patch.Metric, dir patch.Direction) ([]sweptSite, error) {
	var total, done int64
	for _, site := range sites {
		r, c := s.Shape(site)
		total += int64(r * c)
	}
	prog := newProgress(stderr, cellsUnit)
	defer prog.done()
	prog.update("sweep: cells", 0, total)
	var out []sweptSite
	for _, site := range sites {
		_, cols := s.Shape(site)
		mx, err := s.Sweep(ctx, site, patch.Options{Probs: met.NeedsProbs(), Direction: dir}, func(_, c int, _ patch.Cell) {
			done++
			if c == cols-1 { // cells arrive a row at a time
				prog.update("sweep: cells", done, total)
			}
		})
		if err != nil {
			return nil, err
		}
		vals, err := s.Values(mx, met)
		if err != nil {
			return nil, err
		}
		out = append(out, sweptSite{site: site, mx: mx, vals: vals})
	}
	return out, nil
}

// write stages every requested output and renames them into place, or
// prints the matrices when none was requested.
func (o *sweepFlags) write(ctx context.Context, stdout, stderr io.Writer, tok *bpe.Tokenizer, a *analysis.Analysis, swept []sweptSite) error {
	views := makeViews(a, swept)
	all := append(slices.Clip(views), o.atp.views(a, o.siteList, o.met)...)
	if o.json == "" && o.csv == "" && o.png == "" && o.svg == "" && o.pdf == "" && o.report == "" {
		for _, v := range all {
			printView(stdout, v, o.met)
		}
		return nil
	}
	outs := &outputs{stdout: stdout}
	defer outs.abort()
	if o.json != "" {
		mxs := make([]*patch.Matrix, len(swept))
		for i, s := range swept {
			mxs[i] = s.mx
		}
		rec, err := a.Record(tok, mxs, o.met)
		if err != nil {
			return err
		}
		if err := outs.add(o.json, func(w io.Writer) error { return o.atp.writeJSON(w, rec) }); err != nil {
			return err
		}
	}
	several := len(all) > 1
	for _, v := range all {
		if o.csv != "" {
			if err := outs.add(perView(o.csv, v.name, several), func(w io.Writer) error { return writeCSV(w, v) }); err != nil {
				return err
			}
		}
		fig := figure{view: v, title: o.titled(figureTitle(a, v, o.met)), barLabel: metricFormula(a, o.met)}
		for _, out := range []struct{ path, format string }{{o.png, "png"}, {o.svg, "svg"}, {o.pdf, "pdf"}} {
			if out.path == "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := outs.add(perView(out.path, v.name, several), func(w io.Writer) error { return writeFigure(w, out.format, fig) }); err != nil {
				return err
			}
		}
	}
	if err := o.atp.addScatters(ctx, outs, o, a, views, several); err != nil {
		return err
	}
	if o.report != "" {
		if err := o.addReport(ctx, outs, tok, a, swept, views); err != nil {
			return err
		}
	}
	written, err := outs.commit(ctx)
	for _, p := range written {
		fmt.Fprintf(o.textOut(&stdio{stdout, stderr}), "wrote %s\n", p)
	}
	return err
}
