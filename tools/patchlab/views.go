package main

import (
	"fmt"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// view is one labelled matrix of metric values, as one figure or CSV file
// shows it: row 0 is drawn at the top.
type view struct {
	name                 string // resid_post, z_per_position, …: the file-name suffix
	rowTitle, colTitle   string
	rowGroup             int // rows come in groups of this many (heads of a layer): label on group boundaries
	rowLabels, colLabels []string
	vals                 [][]float64 // [row][col]
}

// sweptSite is one finished sweep with the chosen metric's values.
type sweptSite struct {
	site patch.Site
	mx   *patch.Matrix
	vals []float64
}

// makeViews turns the sweeps into views, one per site, except that embed
// goes on top of resid_post (as the row before layer 0) when both were swept.
func makeViews(a *analysis.Analysis, swept []sweptSite) []view {
	return layoutViews(a.Session.Model.Config, a.Session.T(), analysis.PositionLabels(a.CleanTokens, a.CorruptedTokens), swept)
}

// layoutViews is makeViews for a model configuration, t tokens and their
// position labels.
func layoutViews(cfg gpt2.Config, t int, positions []string, swept []sweptSite) []view {
	var embed *sweptSite
	hasResid := false
	for i, s := range swept {
		switch s.site.Kind {
		case gpt2.Embed:
			embed = &swept[i]
		case gpt2.ResidPost:
			hasResid = true
		}
	}
	var views []view
	for _, s := range swept {
		l := s.site.Layout(cfg, t)
		v := view{name: s.site.String(), rowTitle: l.RowTitle, colTitle: l.ColTitle, rowGroup: l.RowGroup,
			rowLabels: l.RowLabels, colLabels: l.ColLabels, vals: analysis.Rows(s.vals, s.mx.Cols)}
		if v.colLabels == nil {
			v.colLabels = positions
		}
		switch {
		case s.site.Kind == gpt2.Embed && hasResid:
			continue
		case s.site.Kind == gpt2.ResidPost && embed != nil:
			v.rowLabels = append([]string{"embed"}, v.rowLabels...)
			v.vals = append([][]float64{embed.vals}, v.vals...)
		}
		views = append(views, v)
	}
	return views
}

// figureTitle is the figure's title: the site and metric, then both texts.
func figureTitle(a *analysis.Analysis, v view, met patch.Metric) []string {
	site := v.name
	if len(v.rowLabels) > 0 && v.rowLabels[0] == "embed" && v.name == "resid_post" {
		site = "resid_post (and embed)"
	}
	formula := metricFormula(a, met)
	if met == patch.Normalized {
		formula = fmt.Sprintf("(Δ − Δ corrupted) / (Δ clean − Δ corrupted), Δ = %s", metricFormula(a, patch.LogitDiff))
	}
	return []string{
		fmt.Sprintf("Activation patching, %s: %s = %s", site, met, formula),
		fmt.Sprintf("clean: %q", a.Clean),
		fmt.Sprintf("corrupted: %q", a.Corrupted),
	}
}

// metricFormula says briefly what a metric measures, with the targets.
func metricFormula(a *analysis.Analysis, met patch.Metric) string {
	switch met {
	case patch.CleanTargetDelta:
		return fmt.Sprintf("logit(%q) − its clean-run value", a.CleanTarget)
	case patch.Normalized:
		return "normalized logit difference (0 corrupted, 1 clean)"
	case patch.ProbDiff:
		return fmt.Sprintf("p(%q) − p(%q)", a.CorruptedTarget, a.CleanTarget)
	}
	return fmt.Sprintf("logit(%q) − logit(%q)", a.CorruptedTarget, a.CleanTarget)
}
