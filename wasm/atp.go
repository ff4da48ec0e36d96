package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/atp"
	"github.com/patchlab/patchlab/model/patch"
)

// Attribution patching for the page (package atp): every cell of every
// site of the started analysis estimated from one backward pass of the
// corrupted run, the top MLP neurons (exactly patched on request), and
// the rows holding a site's k highest-ranked cells, for the page to sweep
// exactly. Only the logit difference is estimated.

// ATPSite is a site's estimates in its sweep's layout: rows × cols,
// row-major, the estimated change of the logit difference per cell.
type ATPSite struct {
	Rows   int       `json:"rows"`
	Cols   int       `json:"cols"`
	Values []float64 `json:"values"`
}

// ATPEstimates are the estimates of the started analysis.
type ATPEstimates struct {
	Metric string             `json:"metric"` // "logit_diff": the only one estimated
	Sites  map[string]ATPSite `json:"sites"`  // by site name
	// Fields are the same estimates as the CLI's JSON names them (atp_*).
	Fields  map[string]any     `json:"fields"`
	Neurons []atp.NeuronRecord `json:"neurons"` // without their exact changes (ATPNeurons)
	Seconds float64            `json:"seconds"` // the backward pass and the estimates
}

// ATPTop is a site's k cells of largest |estimate| and the rows they lie
// in: what the page sweeps exactly to check them.
type ATPTop struct {
	Site  string    `json:"site"`
	Cells []ATPCell `json:"cells"`
	Rows  []int     `json:"rows"`
}

// ATPCell is one cell of a site's matrix with its estimate.
type ATPCell struct {
	Row      int     `json:"row"`
	Col      int     `json:"col"`
	Estimate float64 `json:"estimate"`
}

// estimates keeps the estimates of one analysis: asked for again (the top
// rows, the neurons), they are not computed again.
var estimates struct {
	sync.Mutex
	an  *analysis.Analysis
	top int
	est *atp.Estimates
	sec float64
}

// estimatesOf is the started analysis's estimates, which must be req's,
// with at least top neurons.
func (e *Engine) estimatesOf(req analysis.Request, top int) (*atp.Estimates, float64, error) {
	if _, err := e.trace(req, "corrupted"); err != nil {
		return nil, 0, err
	}
	if top < 0 || top > 10000 {
		return nil, 0, fmt.Errorf("top neurons %d: want 0…10000", top)
	}
	estimates.Lock()
	defer estimates.Unlock()
	if estimates.an != e.an || estimates.top < top {
		t0 := time.Now()
		est, err := atp.Estimate(e.an.Session, top)
		if err != nil {
			return nil, 0, err
		}
		estimates.an, estimates.top, estimates.est, estimates.sec = e.an, top, est, time.Since(t0).Seconds()
	}
	return estimates.est, estimates.sec, nil
}

// ATP estimates every site of the started analysis (req's) and the top
// neurons.
func (e *Engine) ATP(req analysis.Request, top int) (*ATPEstimates, error) {
	est, sec, err := e.estimatesOf(req, top)
	if err != nil {
		return nil, err
	}
	out := &ATPEstimates{Metric: patch.LogitDiff.String(), Sites: map[string]ATPSite{}, Fields: map[string]any{}, Seconds: sec}
	for _, spec := range patch.Table {
		rows, cols, vals, err := est.Site(spec.Site)
		if err != nil {
			return nil, err
		}
		out.Sites[spec.Name] = ATPSite{Rows: rows, Cols: cols, Values: vals}
	}
	fields, err := est.Fields()
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		out.Fields[f.Name] = f.Value
	}
	out.Neurons, err = atp.NeuronRecords(context.Background(), e.an.Session, est.Neurons[:min(top, len(est.Neurons))], false)
	return out, err
}

// ATPNeurons is the top neurons of the started analysis with their exact
// changes (each neuron alone patched).
func (e *Engine) ATPNeurons(ctx context.Context, req analysis.Request, top int) ([]atp.NeuronRecord, error) {
	est, _, err := e.estimatesOf(req, top)
	if err != nil {
		return nil, err
	}
	return atp.NeuronRecords(ctx, e.an.Session, est.Neurons[:min(top, len(est.Neurons))], true)
}

// ATPTop is the k cells of site the estimate ranks highest and their rows.
func (e *Engine) ATPTop(req analysis.Request, site string, k int) (*ATPTop, error) {
	s, err := patch.ParseSite(site)
	if err != nil {
		return nil, err
	}
	est, _, err := e.estimatesOf(req, 0)
	if err != nil {
		return nil, err
	}
	_, cols, vals, err := est.Site(s)
	if err != nil {
		return nil, err
	}
	cells := atp.TopCells(vals, cols, max(k, 0))
	out := &ATPTop{Site: site, Cells: make([]ATPCell, len(cells)), Rows: atp.Rows(cells)}
	for i, c := range cells {
		out.Cells[i] = ATPCell{Row: c.Row, Col: c.Col, Estimate: c.Estimate}
	}
	return out, nil
}
