package main

import (
	"context"

	"github.com/patchlab/patchlab/model/gpt2"
)

// naiveSweep is bench's baseline: the resid_post sweep as the assignment
// describes it, one full forward pass of the corrupted text per cell with
// the clean run's residual row patched in through a hook. It reuses nothing
// between cells. It returns logit(corrupted) − logit(clean) per cell,
// row-major (layers × positions).
func naiveSweep(ctx context.Context, m *gpt2.Model, clean, corrupted []int, cleanTarget, corruptedTarget int) ([]float64, error) {
	_, cleanRun, err := m.Forward(clean, nil, true)
	if err != nil {
		return nil, err
	}
	if _, _, err := m.Forward(corrupted, nil, false); err != nil {
		return nil, err
	}
	T, C := len(corrupted), m.Width
	out := make([]float64, 0, m.Layers*T)
	for l := range m.Layers {
		for p := range T {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			target := gpt2.Site{Kind: gpt2.ResidPost, Layer: l}
			hook := func(at gpt2.Site, start int, act []float32) {
				if at == target && p >= start && (p-start)*C < len(act) {
					copy(act[(p-start)*C:(p-start+1)*C], cleanRun.Resid[l][p*C:(p+1)*C])
				}
			}
			logits, _, err := m.Forward(corrupted, hook, false)
			if err != nil {
				return nil, err
			}
			out = append(out, float64(logits[corruptedTarget])-float64(logits[cleanTarget]))
		}
	}
	return out, nil
}
