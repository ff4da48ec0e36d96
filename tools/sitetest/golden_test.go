package sitetest

import (
	"encoding/json"
	"os"
	"path/filepath"
)

type goldenCase struct {
	Name              string      `json:"name"`
	Clean             string      `json:"clean"`
	Corrupted         string      `json:"corrupted"`
	CleanTarget       string      `json:"clean_target"`
	CorruptedTarget   string      `json:"corrupted_target"`
	CleanIDs          []int       `json:"clean_ids"`
	CorruptedIDs      []int       `json:"corrupted_ids"`
	CleanTargetID     int         `json:"clean_target_id"`
	CorruptedTargetID int         `json:"corrupted_target_id"`
	CleanTop20        [][3]any    `json:"clean_top20"`
	CorruptedTop20    [][3]any    `json:"corrupted_top20"`
	CleanLogitDiff    float64     `json:"clean_logit_diff"`
	CorruptedDiff     float64     `json:"corrupted_logit_diff"`
	PatchResidPost    [][]float64 `json:"patch_resid_post"`
	PatchEmbed        []float64   `json:"patch_embed"`
	PatchAttnOut      [][]float64 `json:"patch_attn_out"`
	PatchMLPOut       [][]float64 `json:"patch_mlp_out"`
	PatchHeadZ        [][]float64 `json:"patch_head_z_all_positions"`
	CleanTargetDelta  [][]float64 `json:"patch_resid_post_clean_target_delta"`
	Error             string      `json:"error"`
}

type goldenFile struct {
	Cases []goldenCase `json:"cases"`
}

func readGolden() (goldenFile, error) {
	var g goldenFile
	data, err := os.ReadFile(filepath.Join(fixtures, "tiny-gpt2", "golden.json"))
	if err != nil {
		return g, err
	}
	return g, json.Unmarshal(data, &g)
}

func (g goldenFile) find(name string) goldenCase {
	for _, c := range g.Cases {
		if c.Name == name {
			return c
		}
	}
	panic("no golden case " + name)
}
