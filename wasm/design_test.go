package main

import (
	"context"
	"math"
	"testing"

	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/promptset"
)

// TestRunPairsAddUpToTheSet runs a generated set one run at a time, as the
// page's workers do (each pair and noise seed a RunPair of its own), adds
// the runs' values in the set's order by Welford's update, as
// site/promptset.js does, and compares with promptset.Set over the same
// pairs, as the CLI runs it: the means and deviations must agree to
// rounding, and the skipped pair must be skipped for the same reason.
func TestRunPairsAddUpToTheSet(t *testing.T) {
	e := tinyEngine(t)
	ps, err := e.Pairs(PairsSource{Spec: "ioi:3", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	// A fourth pair of another length is skipped.
	long := ps[0].Pair
	long.Clean, long.Corrupted = long.Clean+" and", long.Corrupted+" and"
	pairs := []promptset.Pair{ps[0].Pair, ps[1].Pair, long, ps[2].Pair}
	noise := &promptset.Noise{Scale: 3, Seed: 5, Seeds: 2}
	sites := []string{"resid_post", "embed"}
	opt := RunOptions{Sites: sites, Metric: "normalized", Direction: "noise", Noise: noise, Tokens: ps[0].Tokens}

	type moments struct {
		n        int
		mean, m2 []float64
	}
	add := func(m *moments, x []float64) {
		if m.n == 0 {
			m.mean, m.m2 = make([]float64, len(x)), make([]float64, len(x))
		}
		m.n++
		for i, v := range x {
			d := v - m.mean[i]
			m.mean[i] += d / float64(m.n)
			m.m2[i] += d * (v - m.mean[i])
		}
	}
	got := map[string]*moments{}
	var reasons []string
	for i, p := range pairs {
		for k := range noise.Seeds {
			res, err := e.RunPair(context.Background(), RunJob{Index: i, Pair: p, K: k}, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Result.Error != "" {
				reasons = append(reasons, res.Result.Reason)
				break
			}
			for _, s := range sites {
				for _, which := range []string{"diff", "metric"} {
					key := s + " " + which
					if got[key] == nil {
						got[key] = &moments{}
					}
					v := res.Values[s].Diff
					if which == "metric" {
						v = res.Values[s].Metric
					}
					add(got[key], v)
				}
			}
		}
	}
	if len(reasons) != 1 || reasons[0] != "length" {
		t.Errorf("skipped: %v, want one pair for its length", reasons)
	}

	var siteList []patch.Site
	for _, s := range sites {
		site, _ := patch.ParseSite(s)
		siteList = append(siteList, site)
	}
	set, err := promptset.New(e.model, e.tok, promptset.Options{Sites: siteList, Metric: patch.Normalized, Direction: patch.Noise, Noise: noise})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		if _, err := set.Add(context.Background(), i, p); err != nil {
			t.Fatal(err)
		}
	}
	if set.Pairs != 3 || set.Skipped != 1 {
		t.Fatalf("the set ran %d pairs, skipped %d", set.Pairs, set.Skipped)
	}
	for _, s := range sites {
		site, _ := patch.ParseSite(s)
		for _, which := range []string{"diff", "metric"} {
			m := patch.LogitDiff
			if which == "metric" {
				m = patch.Normalized
			}
			mean, std, _ := set.Values(site, m)
			g := got[s+" "+which]
			if g.n != set.Runs {
				t.Fatalf("%s: %d runs, the set %d", s, g.n, set.Runs)
			}
			worst := 0.0
			for j := range mean {
				sd := math.Sqrt(max(g.m2[j], 0) / float64(g.n-1))
				worst = max(worst, math.Abs(g.mean[j]-mean[j]), math.Abs(sd-std[j]))
			}
			if worst > 1e-9 || math.IsNaN(worst) {
				t.Errorf("%s %s: the runs added up differ from the set by %g", s, which, worst)
			}
		}
	}
}
