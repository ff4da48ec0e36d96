package promptset

import (
	"encoding/json"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/patch"
)

// Record is a set's result as JSON. Besides these fields it has, for every
// site swept, the mean logit difference under the site table's field name
// for the direction (patch_resid_post, …; noise_resid_post, … when
// noising: as golden.json and views-golden.json name them) and its standard
// deviation under the same name with "_std" (patch_resid_post_std). With
// another metric, Matrices and MatricesStd hold that metric's mean and
// standard deviation by site name. Means and deviations are over runs: one
// run per pair, or per pair and seed with noise.
type Record struct {
	Metric     string       `json:"metric"`
	Direction  string       `json:"direction"`
	Corruption string       `json:"corruption"` // "text" or "noise"
	Noise      *NoiseRecord `json:"noise,omitempty"`
	// Source is where the pairs came from (a file, or "ioi:40"); Seed the
	// generator's seed.
	Source         string   `json:"pairs_source,omitempty"`
	Seed           *uint64  `json:"pairs_seed,omitempty"`
	Tokens         int      `json:"tokens"`
	PositionLabels []string `json:"position_labels"`
	NPairs         int      `json:"n_pairs"`
	NSkipped       int      `json:"n_skipped"`
	NRuns          int      `json:"n_runs"`

	CleanLogitDiff        float64 `json:"clean_logit_diff"`
	CleanLogitDiffStd     float64 `json:"clean_logit_diff_std"`
	CorruptedLogitDiff    float64 `json:"corrupted_logit_diff"`
	CorruptedLogitDiffStd float64 `json:"corrupted_logit_diff_std"`

	Matrices    map[string][][]float64 `json:"matrices,omitempty"`
	MatricesStd map[string][][]float64 `json:"matrices_std,omitempty"`

	Pairs []*PairResult `json:"pairs"`

	// Fields are the per-site fields (patch_resid_post, …_std), written
	// beside the others.
	Fields map[string]any `json:"-"`
}

// NoiseRecord is the noise corruption's parameters: Sigma = Scale × wte's
// standard deviation; the seeds are Seed … Seed+Seeds−1.
type NoiseRecord struct {
	Noise
	Sigma float64 `json:"sigma"`
}

// Record builds the set's record; pairs are the per-pair results to
// include (the caller decides which to keep).
func (s *Set) Record(pairs []*PairResult) *Record {
	r := &Record{
		Metric: s.Metric.String(), Direction: s.Direction.String(), Corruption: "text",
		Tokens: s.T, PositionLabels: s.PositionLabels(),
		NPairs: s.Pairs, NSkipped: s.Skipped, NRuns: s.Runs, Pairs: pairs, Fields: map[string]any{},
	}
	if r.Pairs == nil {
		r.Pairs = []*PairResult{}
	}
	if s.Noise != nil {
		r.Corruption, r.Noise = "noise", &NoiseRecord{Noise: *s.Noise, Sigma: s.Sigma}
	}
	r.CleanLogitDiff, r.CleanLogitDiffStd, r.CorruptedLogitDiff, r.CorruptedLogitDiffStd = s.Baselines()
	for _, site := range s.Sites {
		spec := site.Spec()
		l := site.Layout(s.Model.Config, s.T)
		mean, std, err := s.Values(site, patch.LogitDiff)
		if err != nil || mean == nil {
			continue
		}
		field := spec.FieldFor(s.Direction)
		if spec.Rows == patch.OneRow {
			r.Fields[field], r.Fields[field+"_std"] = mean, std
		} else {
			r.Fields[field], r.Fields[field+"_std"] = analysis.Rows(mean, l.Cols), analysis.Rows(std, l.Cols)
		}
		if s.Metric != patch.LogitDiff {
			mean, std, _ := s.Values(site, s.Metric)
			if r.Matrices == nil {
				r.Matrices, r.MatricesStd = map[string][][]float64{}, map[string][][]float64{}
			}
			r.Matrices[site.String()], r.MatricesStd[site.String()] = analysis.Rows(mean, l.Cols), analysis.Rows(std, l.Cols)
		}
	}
	return r
}

// MarshalJSON writes the record's fields and its per-site Fields together.
func (r *Record) MarshalJSON() ([]byte, error) {
	type plain Record
	b, err := json.Marshal((*plain)(r))
	if err != nil {
		return nil, err
	}
	all := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range r.Fields {
		if all[k], err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return json.Marshal(all)
}
