package patch

import (
	"context"

	"github.com/patchlab/patchlab/model/gpt2"
)

// NaiveSweep is the reference the fast Sweep is tested against (and the
// baseline bench times): one full forward pass of the corrupted text per
// cell, the clean activation patched in through a hook, exactly as the
// assignment describes. It reuses nothing between cells and computes every
// cell's log-sum-exp.
func NaiveSweep(ctx context.Context, s *Session, site Site) (*Matrix, error) {
	return NaiveSweepDirection(ctx, s, site, Denoise)
}

// NaiveSweepDirection is NaiveSweep in either direction: when noising, one
// full forward pass of the clean text per cell with the corrupted run's
// activation patched in. A corrupted run made with Gaussian noise is run as
// the clean text with the noise added to its embedding by the same hook.
func NaiveSweepDirection(ctx context.Context, s *Session, site Site, dir Direction) (*Matrix, error) {
	m := s.Model
	rows, cols := s.Shape(site)
	mx := &Matrix{Site: site, Direction: dir, Rows: rows, Cols: cols, Cells: make([]Cell, rows*cols)}
	C, d := m.Width, m.HeadDim()
	ids, noise, donor := s.CorruptedIDs, s.Noise, s.Clean
	if dir == Noise {
		ids, noise, donor = s.CleanIDs, nil, s.Corrupted
	}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			target := gpt2.Site{Kind: site.Kind, Layer: max(site.layerOf(r, m.Heads), 0)}
			p, head := c, -1 // head −1: the whole row
			switch {
			case site.Spec().HeadColumns:
				p, head = -1, c // every position
			case site.Spec().Rows == LayerHeads:
				head = r % m.Heads
			}
			from := donor.Act(target)
			hook := func(at gpt2.Site, start int, act []float32) {
				if at.Kind == gpt2.Embed && noise != nil {
					addNoise(act, noise, start, C)
				}
				if at != target {
					return
				}
				for i := 0; i*C < len(act); i++ {
					pos := start + i
					if p >= 0 && pos != p {
						continue
					}
					lo, hi := 0, C
					if head >= 0 {
						lo, hi = head*d, (head+1)*d
					}
					copy(act[i*C+lo:i*C+hi], from[pos*C+lo:pos*C+hi])
				}
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			logits, _, err := m.Forward(ids, hook, false)
			if err != nil {
				return nil, err
			}
			mx.Cells[r*cols+c] = s.cellOf(logits, true)
		}
	}
	return mx, nil
}
