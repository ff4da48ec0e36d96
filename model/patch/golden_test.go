package patch

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/weights"
)

func loadGolden(t *testing.T) (*gpt2.Model, []fixture.Case) {
	t.Helper()
	cases, err := fixture.Golden()
	if err != nil {
		t.Fatal(err)
	}
	path, _ := fixture.TinyModel()
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return m, cases
}

func within(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s: got %.7g, want %.7g (±%g)", name, got, want, tol)
	}
}

func TestGolden(t *testing.T) {
	m, cases := loadGolden(t)
	for _, gc := range cases {
		if gc.Error != "" {
			if _, err := NewSession(m, gc.CleanIDs, gc.CorruptedIDs, 0, 0); err == nil && len(gc.CleanIDs) > 0 {
				t.Errorf("%s: want an error (%s)", gc.Name, gc.Error)
			}
			continue
		}
		s, err := NewSession(m, gc.CleanIDs, gc.CorruptedIDs, gc.CleanTargetID, gc.CorruptedTargetID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tab := range []struct {
			name   string
			logits []float32
			want   [][3]any
		}{{"clean", s.CleanLogits, gc.CleanTop20}, {"corrupted", s.CorruptedLogits, gc.CorruptedTop20}} {
			got := Top(tab.logits, 20)
			for i, w := range tab.want {
				if got[i].ID != int(w[0].(float64)) {
					t.Errorf("%s %s top-20 #%d: id %d, want %v", gc.Name, tab.name, i, got[i].ID, w[0])
				}
				within(t, gc.Name+" "+tab.name+" top-20 probability", got[i].P, w[2].(float64), 1e-5)
			}
		}
		within(t, gc.Name+" clean logit diff", s.CleanBase.Diff(), gc.CleanLogitDiff, 1e-4)
		within(t, gc.Name+" corrupted logit diff", s.CorruptedBase.Diff(), gc.CorruptedLogitDiff, 1e-4)

		checks := []struct {
			site   Site
			metric Metric
			want   [][]float64
		}{
			{Site{Kind: gpt2.ResidPost}, LogitDiff, gc.PatchResidPost},
			{Site{Kind: gpt2.Embed}, LogitDiff, [][]float64{gc.PatchEmbed}},
			{Site{Kind: gpt2.AttnOut}, LogitDiff, gc.PatchAttnOut},
			{Site{Kind: gpt2.MLPOut}, LogitDiff, gc.PatchMLPOut},
			{Site{Kind: gpt2.Z}, LogitDiff, gc.PatchHeadZAllPositions},
			{Site{Kind: gpt2.ResidPost}, CleanTargetDelta, gc.PatchResidPostCleanTargetDelta},
		}
		for _, ck := range checks {
			fast, err := s.Sweep(context.Background(), ck.site, Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for which, mx := range map[string]*Matrix{"fast": fast, "naive": naiveSweep(s, ck.site)} {
				vals, err := s.Values(mx, ck.metric)
				if err != nil {
					t.Fatal(err)
				}
				if len(ck.want) != mx.Rows || len(ck.want[0]) != mx.Cols {
					t.Fatalf("%s %v: shape %d×%d, golden %d×%d", gc.Name, ck.site, mx.Rows, mx.Cols, len(ck.want), len(ck.want[0]))
				}
				worst := 0.0
				for r, row := range ck.want {
					for c, w := range row {
						worst = max(worst, math.Abs(vals[r*mx.Cols+c]-w))
					}
				}
				if worst > 1e-4 {
					t.Errorf("%s %v %v (%s): worst cell off by %g", gc.Name, ck.site, ck.metric, which, worst)
				}
			}
		}
	}
}

// TestInvariants checks the two invariants of the fixtures README on the
// naive sweep, where nothing is special-cased: a column whose tokens (and all
// before) agree equals the corrupted baseline, and in the last layer's row
// the last position equals the clean baseline and every other the corrupted.
func TestInvariants(t *testing.T) {
	m, cases := loadGolden(t)
	for _, gc := range cases {
		if gc.Error != "" {
			continue
		}
		s, err := NewSession(m, gc.CleanIDs, gc.CorruptedIDs, gc.CleanTargetID, gc.CorruptedTargetID)
		if err != nil {
			t.Fatal(err)
		}
		if s.FirstDiff == 0 {
			t.Fatalf("%s: the texts differ at position 0; the invariant needs a shared prefix", gc.Name)
		}
		naive := naiveSweep(s, Site{Kind: gpt2.ResidPost})
		T, last := s.T(), m.Layers-1
		same := func(a, b Cell) bool { return a.Clean == b.Clean && a.Corrupted == b.Corrupted }
		for r := 0; r < m.Layers; r++ {
			for p := 0; p < s.FirstDiff; p++ {
				if !same(naive.Cells[r*T+p], s.CorruptedBase) {
					t.Errorf("%s: cell (%d, %d) before the first difference is not the corrupted baseline", gc.Name, r, p)
				}
			}
		}
		for p := 0; p < T; p++ {
			want := s.CorruptedBase
			if p == T-1 {
				want = s.CleanBase
			}
			if !same(naive.Cells[last*T+p], want) {
				t.Errorf("%s: last layer, position %d: %+v, want %+v", gc.Name, p, naive.Cells[last*T+p], want)
			}
		}
	}
}

// TestF16Logits: the F16 copy of the fixture loads and its logits stay
// within 2e-2 of the F32 file's on the golden cases that have outputs.
func TestF16Logits(t *testing.T) {
	m32, cases := loadGolden(t)
	dir, _ := fixture.Dir()
	m16, err := weights.LoadSafetensors(filepath.Join(dir, "tiny-gpt2", "model-f16.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, gc := range cases {
		if gc.Error != "" {
			continue
		}
		for _, ids := range [][]int{gc.CleanIDs, gc.CorruptedIDs} {
			a, _, err := m32.Forward(ids, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := m16.Forward(ids, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range a {
				worst = max(worst, math.Abs(float64(a[i]-b[i])))
			}
			if worst > 2e-2 {
				t.Errorf("%s: F16 logits off by %g", gc.Name, worst)
			}
			t.Logf("%s: F16 logits within %.4g of F32", gc.Name, worst)
		}
	}
}
