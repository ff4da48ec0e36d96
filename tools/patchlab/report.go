package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	reportkit "github.com/patchlab/patchlab/model/report"
	"github.com/patchlab/patchlab/model/tensor"
)

// The report kit's figures: 16 cm wide (a page's text width) at 300 dpi,
// 1890 pixels; 10 cm high, the CLI's 8:5.
const (
	reportWidth  = 16 * vg.Centimeter
	reportHeight = 10 * vg.Centimeter
	reportDPI    = 300
)

// addReport stages the report kit in dir: each heatmap as SVG and PNG
// with its caption (.txt) and LaTeX figure (.tex), the tables as Markdown
// and LaTeX (model/report, which the page's zip uses too) and the JSON
// record.
func (o *sweepFlags) addReport(ctx context.Context, outs *outputs, tok *bpe.Tokenizer, a *analysis.Analysis, swept []sweptSite, views []view) error {
	dir := o.report
	mxs := make([]*patch.Matrix, len(swept))
	for i, s := range swept {
		mxs[i] = s.mx
	}
	rec, err := a.Record(tok, mxs, o.met)
	if err != nil {
		return err
	}
	kit := reportkit.Kit{Record: rec, Model: reportkit.ModelName(a.Session.Model.Config, codeBits(a.Session.Model)), Metric: o.met, Direction: reportkit.Denoising}
	for _, v := range views {
		name := perView("heatmap", v.name, len(views) > 1)
		site, err := patch.ParseSite(v.name)
		if err != nil {
			return err
		}
		kit.Heatmaps = append(kit.Heatmaps, reportkit.Heatmap{File: name, Site: site, WithEmbed: len(v.rowLabels) > 0 && v.rowLabels[0] == "embed" && site.Kind == gpt2.ResidPost,
			Rows: v.rowTitle, Cols: v.colTitle})
		fig := figure{view: v, title: figureTitle(a, v, o.met), barLabel: metricFormula(a, o.met), width: reportWidth, height: reportHeight, dpi: reportDPI}
		for _, format := range []string{"svg", "png"} {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := outs.add(filepath.Join(dir, name+"."+format), func(w io.Writer) error { return writeFigure(w, format, fig) }); err != nil {
				return err
			}
		}
	}
	for _, f := range kit.Files() {
		if err := outs.add(filepath.Join(dir, f.Name), func(w io.Writer) error { _, err := io.Copy(w, strings.NewReader(f.Text)); return err }); err != nil {
			return err
		}
	}
	return outs.add(filepath.Join(dir, "record.json"), func(w io.Writer) error { return writeJSON(w, rec, true) })
}

// codeBits is the model's code width, 0 for float32.
func codeBits(m *gpt2.Model) int {
	if q, ok := m.Blocks[0].FC.(*tensor.QN); ok {
		return q.Bits
	}
	return 0
}
