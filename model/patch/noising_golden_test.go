package patch

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
)

// viewsCase is the noising part of a views-golden.json case.
type viewsCase struct {
	Name                   string      `json:"name"`
	NoiseResidPost         [][]float64 `json:"noise_resid_post"`
	NoiseEmbed             []float64   `json:"noise_embed"`
	NoiseAttnOut           [][]float64 `json:"noise_attn_out"`
	NoiseMLPOut            [][]float64 `json:"noise_mlp_out"`
	NoiseHeadZAllPositions [][]float64 `json:"noise_head_z_all_positions"`
}

// TestNoisingGolden checks noising, fast and naive, against the oracle's
// noise_* matrices within 1e-4.
func TestNoisingGolden(t *testing.T) {
	m, cases := loadGolden(t)
	dir, _ := fixture.Dir()
	data, err := os.ReadFile(filepath.Join(dir, "tiny-gpt2", "views-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var views struct{ Cases []viewsCase }
	if err := json.Unmarshal(data, &views); err != nil {
		t.Fatal(err)
	}
	if len(views.Cases) == 0 {
		t.Fatal("views-golden.json has no cases")
	}
	for _, vc := range views.Cases {
		gc, ok := fixture.Find(cases, vc.Name)
		if !ok {
			t.Fatalf("%s: not in golden.json", vc.Name)
		}
		s, err := NewSession(m, gc.CleanIDs, gc.CorruptedIDs, gc.CleanTargetID, gc.CorruptedTargetID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ck := range []struct {
			site Site
			want [][]float64
		}{
			{Site{Kind: gpt2.ResidPost}, vc.NoiseResidPost},
			{Site{Kind: gpt2.Embed}, [][]float64{vc.NoiseEmbed}},
			{Site{Kind: gpt2.AttnOut}, vc.NoiseAttnOut},
			{Site{Kind: gpt2.MLPOut}, vc.NoiseMLPOut},
			{Site{Kind: gpt2.Z}, vc.NoiseHeadZAllPositions},
		} {
			fast, err := s.Sweep(context.Background(), ck.site, Options{Direction: Noise}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for which, mx := range map[string]*Matrix{"fast": fast, "naive": naiveSweepDir(s, ck.site, Noise)} {
				vals, _ := s.Values(mx, LogitDiff)
				if len(ck.want) != mx.Rows || len(ck.want[0]) != mx.Cols {
					t.Fatalf("%s %v: shape %d×%d, golden %d×%d", vc.Name, ck.site, mx.Rows, mx.Cols, len(ck.want), len(ck.want[0]))
				}
				worst := 0.0
				for r, row := range ck.want {
					for c, w := range row {
						worst = max(worst, math.Abs(vals[r*mx.Cols+c]-w))
					}
				}
				if worst > 1e-4 || math.IsNaN(worst) {
					t.Errorf("%s noising %v (%s): worst cell off by %g", vc.Name, ck.site, which, worst)
				}
			}
		}
	}
}
