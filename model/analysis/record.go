package analysis

import (
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// TopEntry is one row of a probability table: [id, token, probability],
// written as a JSON array as the golden file does.
type TopEntry [3]any

// Record is an analysis as JSON, with the golden file's field names. The
// patch_* matrices hold the logit difference, as the golden file defines them;
// Metric and Matrices add the chosen metric when it is another one.
type Record struct {
	Clean              string     `json:"clean"`
	Corrupted          string     `json:"corrupted"`
	CleanTarget        string     `json:"clean_target"`
	CorruptedTarget    string     `json:"corrupted_target"`
	CleanIDs           []int      `json:"clean_ids"`
	CorruptedIDs       []int      `json:"corrupted_ids"`
	CleanTokens        []string   `json:"clean_tokens"`
	CorruptedTokens    []string   `json:"corrupted_tokens"`
	CleanTargetID      int        `json:"clean_target_id"`
	CorruptedTargetID  int        `json:"corrupted_target_id"`
	CleanTop20         []TopEntry `json:"clean_top20"`
	CorruptedTop20     []TopEntry `json:"corrupted_top20"`
	CleanLogitDiff     float64    `json:"clean_logit_diff"`
	CorruptedLogitDiff float64    `json:"corrupted_logit_diff"`

	PatchResidPost                 [][]float64 `json:"patch_resid_post,omitempty"`
	PatchEmbed                     []float64   `json:"patch_embed,omitempty"`
	PatchAttnOut                   [][]float64 `json:"patch_attn_out,omitempty"`
	PatchMLPOut                    [][]float64 `json:"patch_mlp_out,omitempty"`
	PatchHeadZAllPositions         [][]float64 `json:"patch_head_z_all_positions,omitempty"`
	PatchHeadZPerPosition          [][]float64 `json:"patch_head_z_per_position,omitempty"`
	PatchResidPostCleanTargetDelta [][]float64 `json:"patch_resid_post_clean_target_delta,omitempty"`

	// Noising (views-golden.json's names): the clean run with one
	// corrupted activation.
	NoiseResidPost                 [][]float64 `json:"noise_resid_post,omitempty"`
	NoiseEmbed                     []float64   `json:"noise_embed,omitempty"`
	NoiseAttnOut                   [][]float64 `json:"noise_attn_out,omitempty"`
	NoiseMLPOut                    [][]float64 `json:"noise_mlp_out,omitempty"`
	NoiseHeadZAllPositions         [][]float64 `json:"noise_head_z_all_positions,omitempty"`
	NoiseHeadZPerPosition          [][]float64 `json:"noise_head_z_per_position,omitempty"`
	NoiseResidPostCleanTargetDelta [][]float64 `json:"noise_resid_post_clean_target_delta,omitempty"`

	// Direction is "noise" when the matrices of Matrices are noising.
	Direction string `json:"direction,omitempty"`

	Metric   string                 `json:"metric,omitempty"`
	Matrices map[string][][]float64 `json:"matrices,omitempty"`
}

func tops(tok *bpe.Tokenizer, ps []patch.Prob) []TopEntry {
	out := make([]TopEntry, len(ps))
	for i, p := range ps {
		out[i] = TopEntry{p.ID, tok.DecodeToken(p.ID), p.P}
	}
	return out
}

func texts(ts []Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Text
	}
	return out
}

// Rows reshapes a matrix's metric values into rows.
func Rows(vals []float64, cols int) [][]float64 {
	out := make([][]float64, 0, len(vals)/max(cols, 1))
	for i := 0; i+cols <= len(vals) && cols > 0; i += cols {
		out = append(out, vals[i:i+cols])
	}
	return out
}

// matrix and vector are the record's field for a site's matrix (the site
// table's Field), by its JSON name.
func (r *Record) matrix(field string) *[][]float64 {
	m := map[string]*[][]float64{
		"patch_resid_post": &r.PatchResidPost, "patch_attn_out": &r.PatchAttnOut, "patch_mlp_out": &r.PatchMLPOut,
		"patch_head_z_all_positions": &r.PatchHeadZAllPositions, "patch_head_z_per_position": &r.PatchHeadZPerPosition,
		"noise_resid_post": &r.NoiseResidPost, "noise_attn_out": &r.NoiseAttnOut, "noise_mlp_out": &r.NoiseMLPOut,
		"noise_head_z_all_positions": &r.NoiseHeadZAllPositions, "noise_head_z_per_position": &r.NoiseHeadZPerPosition,
	}[field]
	if m == nil {
		panic("analysis: the record has no matrix field " + field)
	}
	return m
}

func (r *Record) vector(field string) *[]float64 {
	switch field {
	case "patch_embed":
		return &r.PatchEmbed
	case "noise_embed":
		return &r.NoiseEmbed
	}
	panic("analysis: the record has no vector field " + field)
}

// Record builds the JSON record from the sweeps made so far; metric is the
// one the user chose (the golden fields always hold the logit difference).
func (a *Analysis) Record(tok *bpe.Tokenizer, sweeps []*patch.Matrix, metric patch.Metric) (*Record, error) {
	s := a.Session
	r := &Record{
		Clean: a.Request.Clean, Corrupted: a.Request.Corrupted,
		CleanTarget: a.Request.CleanTarget, CorruptedTarget: a.Request.CorruptedTarget,
		CleanIDs: s.CleanIDs, CorruptedIDs: s.CorruptedIDs,
		CleanTokens: texts(a.CleanTokens), CorruptedTokens: texts(a.CorruptedTokens),
		CleanTargetID: a.CleanTargetID, CorruptedTargetID: a.CorruptedTargetID,
		CleanTop20: tops(tok, a.CleanTop), CorruptedTop20: tops(tok, a.CorruptedTop),
		CleanLogitDiff: s.CleanBase.Diff(), CorruptedLogitDiff: s.CorruptedBase.Diff(),
	}
	for _, mx := range sweeps {
		diff, err := s.Values(mx, patch.LogitDiff)
		if err != nil {
			return nil, err
		}
		spec := mx.Site.Spec()
		if field := spec.FieldFor(mx.Direction); spec.Rows == patch.OneRow {
			*r.vector(field) = diff
		} else {
			*r.matrix(field) = Rows(diff, mx.Cols)
		}
		if mx.Site.Kind == gpt2.ResidPost {
			delta, _ := s.Values(mx, patch.CleanTargetDelta)
			if mx.Direction == patch.Noise {
				r.NoiseResidPostCleanTargetDelta = Rows(delta, mx.Cols)
			} else {
				r.PatchResidPostCleanTargetDelta = Rows(delta, mx.Cols)
			}
		}
		if mx.Direction == patch.Noise {
			r.Direction = patch.Noise.String()
		}
		if metric != patch.LogitDiff {
			vals, err := s.Values(mx, metric)
			if err != nil {
				return nil, err
			}
			if r.Matrices == nil {
				r.Metric, r.Matrices = metric.String(), map[string][][]float64{}
			}
			r.Matrices[mx.Site.String()] = Rows(vals, mx.Cols)
		}
	}
	return r, nil
}
