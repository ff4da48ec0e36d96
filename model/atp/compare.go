package atp

import (
	"math"
	"sort"
)

// Comparison sets a site's estimates beside its exact values: what the
// scatter plot of estimate against exact summarises.
type Comparison struct {
	N int
	// Corr is the Pearson correlation of estimate and exact over all cells
	// (NaN when either is constant).
	Corr float64
	// Worst are the cells of largest |estimate − exact|, worst first.
	Worst []Miss
}

// Miss is one cell's estimate and exact change.
type Miss struct {
	Row, Col        int
	Estimate, Exact float64
}

// Compare compares estimates with exact changes (patched − unpatched
// corrupted metric) cell by cell, both rows × cols row-major, listing the k
// worst cells.
func Compare(est, exact []float64, cols, k int) Comparison {
	n := len(est)
	c := Comparison{N: n, Corr: pearson(est, exact)}
	miss := make([]Miss, n)
	for i := range miss {
		miss[i] = Miss{Row: i / cols, Col: i % cols, Estimate: est[i], Exact: exact[i]}
	}
	sort.SliceStable(miss, func(a, b int) bool {
		return math.Abs(miss[a].Estimate-miss[a].Exact) > math.Abs(miss[b].Estimate-miss[b].Exact)
	})
	c.Worst = miss[:min(k, n)]
	return c
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}
