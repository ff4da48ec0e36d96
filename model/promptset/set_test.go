package promptset

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/weights"
)

func tinyModel(t *testing.T) *gpt2.Model {
	t.Helper()
	path, err := fixture.TinyModel()
	if err != nil {
		t.Fatal(err)
	}
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var goldenSites = []patch.Site{{Kind: gpt2.ResidPost}, {Kind: gpt2.Embed}, {Kind: gpt2.AttnOut}, {Kind: gpt2.MLPOut}, {Kind: gpt2.Z}}

// TestGoldenSet: a set of the fixture's two equal-length cases averages, in
// both directions, to the mean of their golden matrices within 1e-4, and
// its spread is the two values' sample standard deviation, |a − b|/√2.
func TestGoldenSet(t *testing.T) {
	m, tok := tinyModel(t), bpe.New()
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := fixture.Dir()
	data, err := os.ReadFile(filepath.Join(dir, "tiny-gpt2", "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var views struct{ Cases []map[string]any }
	if err := json.Unmarshal(data, &views); err != nil {
		t.Fatal(err)
	}
	var pairs []Pair
	golden := map[string][]map[string]any{} // field → the two cases' records
	for _, vc := range views.Cases {
		gc, ok := fixture.Find(cases, vc["name"].(string))
		if !ok {
			t.Fatalf("%v: not in golden.json", vc["name"])
		}
		pairs = append(pairs, Pair{Request: analysis.Request{Clean: gc.Clean, Corrupted: gc.Corrupted, CleanTarget: gc.CleanTarget, CorruptedTarget: gc.CorruptedTarget}})
		raw, _ := json.Marshal(gc)
		var rec map[string]any
		json.Unmarshal(raw, &rec)
		golden["denoise"] = append(golden["denoise"], rec)
		golden["noise"] = append(golden["noise"], vc)
	}
	if len(pairs) != 2 {
		t.Fatalf("%d equal-length cases, want 2", len(pairs))
	}
	for _, d := range []patch.Direction{patch.Denoise, patch.Noise} {
		set, err := New(m, tok, Options{Sites: goldenSites, Metric: patch.LogitDiff, Direction: d})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs {
			res, err := set.Add(context.Background(), i, p)
			if err != nil || res.Error != "" {
				t.Fatalf("pair %d: %v %s", i, err, res.Error)
			}
		}
		rec := set.Record(nil)
		n := 0
		for _, site := range goldenSites {
			field := site.Spec().FieldFor(d)
			a, b := flat(golden[d.String()][0][field]), flat(golden[d.String()][1][field])
			mean, std := flat(rec.Fields[field]), flat(rec.Fields[field+"_std"])
			if len(a) == 0 || len(a) != len(mean) || len(std) != len(mean) {
				t.Fatalf("%s: %d golden values, %d means, %d deviations", field, len(a), len(mean), len(std))
			}
			for i := range a {
				if math.Abs(mean[i]-(a[i]+b[i])/2) > 1e-4 || math.Abs(std[i]-math.Abs(a[i]-b[i])/math.Sqrt2) > 1e-4 {
					t.Errorf("%s[%d]: mean %g ± %g, golden %g and %g", field, i, mean[i], std[i], a[i], b[i])
				}
				n++
			}
		}
		if rec.NPairs != 2 || rec.NRuns != 2 || n < 159 {
			t.Errorf("%v: %d pairs, %d runs, %d values compared", d, rec.NPairs, rec.NRuns, n)
		}
	}
}

// flat is a JSON-like matrix or vector as one slice.
func flat(v any) []float64 {
	var out []float64
	switch x := v.(type) {
	case float64:
		out = append(out, x)
	case []float64:
		out = append(out, x...)
	case [][]float64:
		for _, r := range x {
			out = append(out, r...)
		}
	case []any:
		for _, e := range x {
			out = append(out, flat(e)...)
		}
	}
	return out
}

// TestNoiseAverage: with Gaussian noise, the set's matrices are the mean
// (and sample deviation) of the per-seed sweeps, each made independently
// here from GaussianNoise and NewNoiseSession, for the logit difference and
// for normalized computed per seed with that seed's baselines.
func TestNoiseAverage(t *testing.T) {
	m, tok := tinyModel(t), bpe.New()
	const seeds, scale = 4, 2.5
	pair := Pair{Request: analysis.Request{Clean: "Michelle Jones was a top-notch student. Michelle", CleanTarget: " Jones", CorruptedTarget: " Smith"}}
	noise := &Noise{Scale: scale, Seed: 7, Seeds: seeds, Positions: []int{0, 1}}
	site := patch.Site{Kind: gpt2.ResidPost}
	for _, d := range []patch.Direction{patch.Denoise, patch.Noise} {
		set, err := New(m, tok, Options{Sites: []patch.Site{site}, Metric: patch.Normalized, Direction: d, Noise: noise})
		if err != nil {
			t.Fatal(err)
		}
		res, err := set.Add(context.Background(), 0, pair)
		if err != nil || res.Error != "" {
			t.Fatalf("%v %s", err, res.Error)
		}
		if set.Runs != seeds || len(res.CorruptedLogitDiffs) != seeds {
			t.Fatalf("%d runs, %d baselines, want %d", set.Runs, len(res.CorruptedLogitDiffs), seeds)
		}
		ids := tok.Encode(pair.Clean)
		sigma := scale * patch.EmbedStd(m)
		for _, met := range []patch.Metric{patch.LogitDiff, patch.Normalized} {
			var per [][]float64
			for k := range seeds {
				nz, err := patch.GaussianNoise(len(ids), m.Width, noise.Positions, sigma, noise.Seed+uint64(k))
				if err != nil {
					t.Fatal(err)
				}
				s, err := patch.NewNoiseSession(m, ids, nz, tok.Encode(pair.CleanTarget)[0], tok.Encode(pair.CorruptedTarget)[0])
				if err != nil {
					t.Fatal(err)
				}
				if s.CorruptedBase.Diff() != res.CorruptedLogitDiffs[k] {
					t.Errorf("seed %d: corrupted baseline %g, the set's %g", k, s.CorruptedBase.Diff(), res.CorruptedLogitDiffs[k])
				}
				mx, err := s.Sweep(context.Background(), site, patch.Options{Direction: d}, nil)
				if err != nil {
					t.Fatal(err)
				}
				v, err := s.Values(mx, met)
				if err != nil {
					t.Fatal(err)
				}
				per = append(per, v)
			}
			mean, std, err := set.Values(site, met)
			if err != nil {
				t.Fatal(err)
			}
			for i := range mean {
				var mu, sq float64
				for _, v := range per {
					mu += v[i] / seeds
				}
				for _, v := range per {
					sq += (v[i] - mu) * (v[i] - mu)
				}
				sd := math.Sqrt(sq / (seeds - 1))
				if math.Abs(mean[i]-mu) > 1e-12*max(1, math.Abs(mu)) || math.Abs(std[i]-sd) > 1e-9*max(1, sd) {
					t.Fatalf("%v %v cell %d: %g ± %g, per-seed mean %g ± %g", d, met, i, mean[i], std[i], mu, sd)
				}
			}
			if met == patch.Normalized {
				if got := flat(res.Matrices["resid_post"]); math.Abs(got[len(got)-1]-mean[len(mean)-1]) > 1e-12 {
					t.Errorf("the pair's matrix is not its seed mean")
				}
			}
		}
	}
}

// TestSkippedPairs: pairs that break the rules are named with the reason,
// and the others run.
func TestSkippedPairs(t *testing.T) {
	m, tok := tinyModel(t), bpe.New()
	good := analysis.Request{Clean: "Michelle Jones was a top-notch student. Michelle", Corrupted: "Michelle Smith was a top-notch student. Michelle", CleanTarget: " Jones", CorruptedTarget: " Smith"}
	input := strings.Join([]string{
		`{"clean": "Michelle Jones was a top-notch student. Michelle", "corrupted": "Michelle Smith was a top-notch student. Michelle", "clean_target": " Jones", "corrupted_target": " Smith"}`,
		`not json`,
		``,
		`{"clean": "Michelle Jones was a top-notch student. Michelle", "corrupted": "Michelle Richardson-Smith was a top-notch student. Michelle", "clean_target": " Jones", "corrupted_target": " Smith"}`,
		`{"clean": "Michelle Jones was a student. Michelle", "corrupted": "Michelle Smith was a student. Michelle", "clean_target": " Jones", "corrupted_target": " Smith"}`,
		`{"clean": "Michelle Jones was a top-notch student. Michelle", "corrupted": "Michelle Smith was a top-notch student. Michelle", "clean_target": " Richardson-Smith", "corrupted_target": " Smith"}`,
		`{"clean": "Michelle Jones was a top-notch student. Jessica", "corrupted": "Michelle Smith was a top-notch student. Jessica", "clean_target": " Jones", "corrupted_target": " Smith"}`,
	}, "\n")
	pairs, err := ReadJSONL(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 6 || pairs[0].Request != good {
		t.Fatalf("read %d pairs, first %+v", len(pairs), pairs[0])
	}
	set, err := New(m, tok, Options{Sites: []patch.Site{{Kind: gpt2.ResidPost}}, Metric: patch.LogitDiff})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for i, p := range pairs {
		res, err := set.Add(context.Background(), i, p)
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, res.Reason)
		if (res.Reason == "") != (res.Error == "") {
			t.Errorf("pair %d: reason %q, error %q", i, res.Reason, res.Error)
		}
	}
	want := []string{"", "not_json", "count_mismatch", "length", "not_one_token", ""}
	if strings.Join(reasons, ",") != strings.Join(want, ",") {
		t.Errorf("reasons %q, want %q", reasons, want)
	}
	if set.Pairs != 2 || set.Skipped != 4 {
		t.Errorf("%d pairs ran, %d skipped", set.Pairs, set.Skipped)
	}
	labels := set.PositionLabels()
	if labels[1] != "1  Jones→Smith" || labels[10] != "10 *" || labels[0] != "0 Michelle" {
		t.Errorf("labels %q", labels)
	}
}
