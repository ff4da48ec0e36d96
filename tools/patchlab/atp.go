package main

// sweep -method atp|both: attribution patching (package atp), every cell
// of every site estimated from one backward pass, written beside (or
// instead of) the exact sweep, with a scatter figure of estimate against
// exact change.

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/atp"
	"github.com/patchlab/patchlab/model/patch"
)

// atpRun is what sweep does about attribution patching.
type atpRun struct {
	method  string // exact, atp or both
	neurons int
	est     *atp.Estimates
	neuronR []atp.NeuronRecord
	seconds float64
	cmp     map[string]atp.Comparison // by exact view name
}

// atpWorst is how many of the worst cells the comparison names.
const atpWorst = 5

func (r *atpRun) flags(f *flags) {
	f.StringVar(&r.method, "method", "exact", "`exact` (patch every cell), atp (estimate every cell from one backward pass: attribution patching, the logit difference only) or both (and compare them: a scatter figure beside each heatmap)")
	f.IntVar(&r.neurons, "neurons", 20, "with -method atp or both: list the `N` MLP neurons of largest estimated effect (atp_neurons), each also patched exactly")
}

// exact reports whether the exact sweep runs.
func (r *atpRun) exact() bool { return r.method != "atp" }

func (r *atpRun) check(o *sweepFlags) error {
	switch r.method {
	case "exact":
		return nil
	case "atp", "both":
	default:
		return inputf("-method %q: want exact, atp or both", r.method)
	}
	switch {
	case o.met != patch.LogitDiff && o.met != patch.Normalized:
		return inputf("-method %s: the estimate is available for the logit difference only: use -metric logit_diff or normalized", r.method)
	case o.design.isSet():
		return inputf("-method %s estimates one pair of texts: leave out -pairs and -corruption noise", r.method)
	case o.dir == patch.Noise:
		return inputf("-method %s estimates denoising only (the corrupted run with one clean activation): leave out -direction noise", r.method)
	case r.neurons < 0:
		return inputf("-neurons %d: want 0 or more", r.neurons)
	case r.method == "atp" && o.report != "":
		return inputf("-report needs the exact sweep: use -method both")
	}
	return nil
}

// estimate runs the backward pass and patches the top neurons exactly.
func (r *atpRun) estimate(ctx context.Context, w io.Writer, a *analysis.Analysis) error {
	if r.method == "exact" {
		return nil
	}
	t0 := time.Now()
	est, err := atp.Estimate(a.Session, r.neurons)
	if err != nil {
		return err
	}
	r.seconds = time.Since(t0).Seconds()
	r.est = est
	if r.neuronR, err = atp.NeuronRecords(ctx, a.Session, est.Neurons, true); err != nil {
		return err
	}
	fmt.Fprintf(w, "Attribution patching: every cell of every site and every MLP neuron estimated in %.3f s (one backward pass of the corrupted run).\n", r.seconds)
	if len(r.neuronR) > 0 {
		fmt.Fprintf(w, "Top %d MLP neurons by estimated change of the logit difference (exact: that neuron alone patched):\n", len(r.neuronR))
		fmt.Fprintf(w, "  %5s %8s %7s %10s %10s\n", "layer", "position", "neuron", "estimate", "exact")
		for _, n := range r.neuronR {
			fmt.Fprintf(w, "  %5d %8d %7d %10.4f %10.4f\n", n.Layer, n.Position, n.Neuron, n.Estimate, *n.Exact)
		}
	}
	fmt.Fprintln(w)
	return nil
}

// estimated is a site's estimate as the chosen metric's value in the
// patched run: the corrupted run's value plus the estimated change.
func (r *atpRun) estimated(a *analysis.Analysis, site patch.Site, met patch.Metric) sweptSite {
	s := a.Session
	rows, cols, vals, _ := r.est.Site(site)
	base, scale := s.CorruptedBase.Diff(), 1.0
	if met == patch.Normalized {
		base, scale = 0, 1/(s.CleanBase.Diff()-s.CorruptedBase.Diff())
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = base + v*scale
	}
	return sweptSite{site: site, mx: &patch.Matrix{Site: site, Rows: rows, Cols: cols}, vals: out}
}

// views are the estimates of the sites as views, named atp_<site>.
func (r *atpRun) views(a *analysis.Analysis, sites []patch.Site, met patch.Metric) []view {
	if r.est == nil {
		return nil
	}
	var swept []sweptSite
	for _, site := range sites {
		swept = append(swept, r.estimated(a, site, met))
	}
	vs := makeViews(a, swept)
	for i := range vs {
		vs[i].name = "atp_" + vs[i].name
	}
	return vs
}

// atpTitle is an estimate's figure title (nil for other views).
func atpTitle(a *analysis.Analysis, v view, met patch.Metric) []string {
	site, ok := strings.CutPrefix(v.name, "atp_")
	if !ok {
		return nil
	}
	return []string{
		fmt.Sprintf("Attribution patching (first-order estimate), %s: %s = %s", site, met, metricFormula(a, met)),
		fmt.Sprintf("clean: %q", a.Clean),
		fmt.Sprintf("corrupted: %q", a.Corrupted),
	}
}

// corruptedValue is the metric of the unpatched corrupted run.
func corruptedValue(a *analysis.Analysis, met patch.Metric) float64 {
	s := a.Session
	v, _ := met.Value(s.CorruptedBase, s.CleanBase, s.CorruptedBase)
	return v
}

// changes are a view's values less the corrupted run's: each cell's change.
func changes(v view, base float64) []float64 {
	var out []float64
	for _, row := range v.vals {
		for _, x := range row {
			out = append(out, x-base)
		}
	}
	return out
}

// compare compares each exact view with its estimate and prints the result.
func (r *atpRun) compare(w io.Writer, a *analysis.Analysis, sites []patch.Site, met patch.Metric, exact []view) {
	if r.method != "both" {
		return
	}
	base := corruptedValue(a, met)
	est := r.views(a, sites, met)
	r.cmp = map[string]atp.Comparison{}
	fmt.Fprintf(w, "Estimate against exact, the change of %s in each cell:\n", met)
	for i, v := range exact {
		c := atp.Compare(changes(est[i], base), changes(v, base), len(v.colLabels), atpWorst)
		r.cmp[v.name] = c
		fmt.Fprintf(w, "  %s: correlation %.4f over %d cells; worst:", v.name, c.Corr, c.N)
		for _, m := range c.Worst {
			fmt.Fprintf(w, " [%s, %s] estimate %.3f exact %.3f;", v.rowLabels[m.Row], analysis.OneLine(v.colLabels[m.Col]), m.Estimate, m.Exact)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// writeJSON writes the record with the estimates' fields after its own.
func (r *atpRun) writeJSON(w io.Writer, rec *analysis.Record) error {
	if r.est == nil {
		return writeJSON(w, rec, true)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	fields, err := r.est.Fields()
	if err != nil {
		return err
	}
	fields = append(fields, atp.Field{Name: "atp_neurons", Value: r.neuronR})
	// The record is an object: its closing brace gives way to the fields.
	b = b[:strings.LastIndexByte(string(b), '}')]
	b = []byte(strings.TrimRight(string(b), "\n "))
	for _, f := range fields {
		v, err := json.MarshalIndent(f.Value, "  ", "  ")
		if err != nil {
			return err
		}
		b = fmt.Appendf(b, ",\n  %q: %s", f.Name, v)
	}
	_, err = w.Write(append(b, "\n}\n"...))
	return err
}

// addScatters stages a scatter figure per exact view for each figure
// flag: out.png gives out-scatter_resid_post.png.
func (r *atpRun) addScatters(ctx context.Context, outs *outputs, o *sweepFlags, a *analysis.Analysis, exact []view, several bool) error {
	if r.cmp == nil {
		return nil
	}
	base := corruptedValue(a, o.met)
	est := r.views(a, o.siteList, o.met)
	for i, v := range exact {
		sc := scatter{exact: v, est: est[i], base: base, cmp: r.cmp[v.name],
			title: []string{fmt.Sprintf("Attribution patching against exact patching, %s: change of %s in each cell", v.name, o.met),
				fmt.Sprintf("clean: %q", a.Clean), fmt.Sprintf("corrupted: %q", a.Corrupted)},
			axis: metricFormula(a, o.met)}
		for _, out := range []struct{ path, format string }{{o.png, "png"}, {o.svg, "svg"}, {o.pdf, "pdf"}} {
			if out.path == "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := outs.add(perView(out.path, "scatter_"+v.name, true), func(w io.Writer) error { return sc.write(w, out.format) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// scatter is the estimate of every cell against its exact change.
type scatter struct {
	exact, est view
	base       float64
	cmp        atp.Comparison
	title      []string
	axis       string
}

func (sc scatter) write(w io.Writer, format string) error {
	c, err := canvasFor(format, figWidth, figHeight, pngDPI)
	if err != nil {
		return err
	}
	sc.draw(draw.New(c))
	_, err = c.WriteTo(w)
	return err
}

// draw draws the points, the diagonal (estimate = exact) on equal axes,
// the worst cells labelled, and the correlation in the title.
func (sc scatter) draw(dc draw.Canvas) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	ex, es := changes(sc.exact, sc.base), changes(sc.est, sc.base)
	pts := make(plotter.XYs, len(ex))
	lo, hi := 0.0, 0.0
	for i := range ex {
		pts[i] = plotter.XY{X: ex[i], Y: es[i]}
		lo, hi = min(lo, ex[i], es[i]), max(hi, ex[i], es[i])
	}
	pad := (hi - lo) * 0.05
	if pad == 0 {
		pad = 1
	}
	lo, hi = lo-pad, hi+pad

	p := plot.New()
	p.Title.Text = strings.Join(append(append(sc.title[:1:1], fmt.Sprintf("correlation %.3f over %d cells; the %d worst labelled (row, position)", sc.cmp.Corr, sc.cmp.N, len(sc.cmp.Worst))), sc.title[1:]...), "\n")
	p.X.Label.Text = "exact change (patched − corrupted run) of " + sc.axis
	p.Y.Label.Text = "estimated change"
	// The figures' typeface, the plot's own alignments.
	for _, ts := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		ts.Font = font.From(figFont, ts.Font.Size)
	}
	p.Title.TextStyle.Font.Size, p.Legend.TextStyle.Font.Size = 10, 9
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, lo, hi
	p.Add(plotter.NewGrid())

	diag, _ := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	diag.Color = color.Gray{Y: 120}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	p.Legend.Add("estimate = exact", diag)

	s, _ := plotter.NewScatter(pts)
	s.GlyphStyle.Shape = draw.CircleGlyph{}
	s.GlyphStyle.Radius = vg.Points(2.5)
	s.GlyphStyle.Color = color.RGBA{33, 102, 172, 200}
	p.Add(s)
	p.Legend.Add("a cell", s)
	p.Legend.Top, p.Legend.Left = true, true

	worst := plotter.XYLabels{}
	wp := plotter.XYs{}
	for _, m := range sc.cmp.Worst {
		pt := plotter.XY{X: m.Exact, Y: m.Estimate}
		worst.XYs = append(worst.XYs, pt)
		wp = append(wp, pt)
		label := fmt.Sprintf("%s, %s", sc.exact.rowLabels[m.Row], analysis.OneLine(sc.exact.colLabels[m.Col]))
		if m.Exact > (lo+hi)/2 {
			label += "    " // right-aligned: clear of the point
		}
		worst.Labels = append(worst.Labels, label)
	}
	if len(wp) > 0 {
		ring, _ := plotter.NewScatter(wp)
		ring.GlyphStyle.Shape = draw.RingGlyph{}
		ring.GlyphStyle.Radius = vg.Points(5)
		ring.GlyphStyle.Color = color.RGBA{178, 24, 43, 255}
		p.Add(ring)
		labels, _ := plotter.NewLabels(worst)
		for i := range labels.TextStyle {
			ts := style(7.5)
			ts.XAlign, ts.YAlign = draw.XLeft, draw.YCenter
			if worst.XYs[i].X > (lo+hi)/2 {
				ts.XAlign = draw.XRight
			}
			labels.TextStyle[i] = ts
		}
		labels.Offset = vg.Point{X: 6}
		p.Add(labels)
	}

	p.Draw(draw.Crop(dc, 8, -8, 8, -8))
}
