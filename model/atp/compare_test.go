package atp

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/patch"
)

func TestCompare(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6}
	up, down, off := make([]float64, 6), make([]float64, 6), make([]float64, 6)
	for i, v := range x {
		up[i], down[i], off[i] = 2*v+1, -v, v
	}
	off[4] = 9 // cell (1, 1) of a 2×3 matrix
	if c := Compare(x, up, 3, 2); math.Abs(c.Corr-1) > 1e-12 || c.N != 6 {
		t.Errorf("y = 2x+1: correlation %g, N %d", c.Corr, c.N)
	}
	if c := Compare(x, down, 3, 2); math.Abs(c.Corr+1) > 1e-12 {
		t.Errorf("y = −x: correlation %g", c.Corr)
	}
	c := Compare(x, off, 3, 2)
	if w := c.Worst[0]; w.Row != 1 || w.Col != 1 || w.Estimate != 5 || w.Exact != 9 || len(c.Worst) != 2 {
		t.Errorf("worst cells %+v, want (1, 1) first", c.Worst)
	}
	if c := Compare(x, make([]float64, 6), 3, 1); !math.IsNaN(c.Corr) {
		t.Errorf("constant exact values: correlation %g, want NaN", c.Corr)
	}
}

// report compares every site's estimates with the exact sweep, and the top
// neurons' with their exact patches, as a table. It checks what must hold
// whatever the model: a cell the texts cannot change (before their first
// difference) has estimate and exact change 0.
func report(t *testing.T, s *patch.Session, topNeurons int) string {
	ctx := context.Background()
	e, err := Estimate(s, topNeurons)
	if err != nil {
		t.Fatal(err)
	}
	base := s.CorruptedBase.Diff()
	var b strings.Builder
	fmt.Fprintf(&b, "clean %.4g, corrupted %.4g (changes are patched − corrupted)\n", s.CleanBase.Diff(), base)
	fmt.Fprintf(&b, "%-15s %6s %7s %9s %9s  worst cells (row,col: estimate / exact)\n", "site", "cells", "corr", "max|est|", "max|ex|")
	line := func(name string, c Comparison, est, exact []float64) {
		var me, mx float64
		for i := range est {
			me, mx = max(me, math.Abs(est[i])), max(mx, math.Abs(exact[i]))
		}
		fmt.Fprintf(&b, "%-15s %6d %7.3f %9.3g %9.3g ", name, c.N, c.Corr, me, mx)
		for _, w := range c.Worst {
			fmt.Fprintf(&b, " %d,%d: %.3g / %.3g;", w.Row, w.Col, w.Estimate, w.Exact)
		}
		b.WriteString("\n")
	}
	for _, site := range patch.Sites {
		_, cols, est, err := e.Site(site)
		if err != nil {
			t.Fatal(err)
		}
		mx, err := s.Sweep(ctx, site, patch.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		exact := make([]float64, len(mx.Cells))
		for i, cell := range mx.Cells {
			exact[i] = cell.Diff() - base
			col := i % cols
			if site.Kind.String() != "z" || site.PerPosition {
				if col < s.FirstDiff && (est[i] != 0 || exact[i] != 0) {
					t.Errorf("%v cell %d,%d before the first difference: estimate %g, exact %g", site, i/cols, col, est[i], exact[i])
				}
			}
		}
		line(site.String(), Compare(est, exact, cols, 3), est, exact)
	}
	cells, err := ExactNeurons(ctx, s, e.Neurons)
	if err != nil {
		t.Fatal(err)
	}
	est, exact := make([]float64, len(cells)), make([]float64, len(cells))
	for i, c := range cells {
		est[i], exact[i] = e.Neurons[i].Estimate, c.Diff()-base
	}
	c := Compare(est, exact, 1, 3)
	for i := range c.Worst {
		n := e.Neurons[c.Worst[i].Row]
		c.Worst[i].Row, c.Worst[i].Col = n.Layer, n.Pos // shown as layer,position
	}
	line(fmt.Sprintf("top %d neurons", len(cells)), c, est, exact)
	return b.String()
}

// TestReportFixture prints the comparison on the tiny model's cases (go
// test -v -run Report).
func TestReportFixture(t *testing.T) {
	for _, vc := range loadViews(t) {
		t.Logf("%s:\n%s", vc.Name, report(t, tinySession(t, vc.Name), 50))
	}
}

// TestReportSmall is the same on a random GPT-2-small-shaped model
// (PATCHLAB_HEAVY=1: it sweeps every site exactly, a minute or two).
func TestReportSmall(t *testing.T) {
	if os.Getenv("PATCHLAB_HEAVY") == "" {
		t.Skip("set PATCHLAB_HEAVY=1 to compare on a GPT-2-small-shaped model")
	}
	t.Logf("random GPT-2-small-shaped, 11 tokens:\n%s", report(t, smallSession(t, 11), 50))
}
