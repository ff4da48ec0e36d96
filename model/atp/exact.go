package atp

import (
	"context"
	"fmt"
	"math"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// A neuron is patched through the MLP's output: mlp_out = W_out·f + b is
// linear in the neurons f, so replacing f_i by the clean value adds
// (f_i,clean − f_i,corrupted)·W_out[:, i] to mlp_out at that position —
// the same patch in exact arithmetic, with no hook inside the MLP.

// neuronDelta is the change to block n.Layer's MLP output at n.Pos that
// patching the neuron in: Δf·(column n.Index of c_proj).
func neuronDelta(s *patch.Session, n Neuron) ([]float32, error) {
	m := s.Model
	T, F := s.T(), 4*m.Width
	if n.Layer < 0 || n.Layer >= m.Layers || n.Pos < 0 || n.Pos >= T || n.Index < 0 || n.Index >= F {
		return nil, fmt.Errorf("neuron (layer %d, position %d, index %d) is outside the model or text", n.Layer, n.Pos, n.Index)
	}
	clean := m.NeuronAct(s.Clean, n.Layer, n.Pos, n.Index)
	corrupted := m.NeuronAct(s.Corrupted, n.Layer, n.Pos, n.Index)
	onehot := make([]float32, F)
	onehot[n.Index] = clean - corrupted
	delta := make([]float32, m.Width)
	m.Blocks[n.Layer].FCProj.MulT(delta, onehot, 1)
	return delta, nil
}

// ExactNeuron runs the corrupted text once with one MLP neuron (after GELU)
// replaced by the clean run's, through a hook on the block's MLP output,
// and returns the patched run's cell (its logits of the two targets).
func ExactNeuron(s *patch.Session, n Neuron) (patch.Cell, error) {
	delta, err := neuronDelta(s, n)
	if err != nil {
		return patch.Cell{}, err
	}
	C := s.Model.Width
	at := gpt2.Site{Kind: gpt2.MLPOut, Layer: n.Layer}
	hook := func(site gpt2.Site, start int, act []float32) {
		if site != at || n.Pos < start || (n.Pos-start)*C >= len(act) {
			return
		}
		row := act[(n.Pos-start)*C:]
		for k, d := range delta {
			row[k] += d
		}
	}
	logits, _, err := s.Model.Forward(s.CorruptedIDs, hook, false)
	if err != nil {
		return patch.Cell{}, err
	}
	return patch.Cell{Clean: logits[s.CleanTarget], Corrupted: logits[s.CorruptedTarget], LSE: math.NaN()}, nil
}

// ExactNeurons is ExactNeuron for many neurons, computed as the sweep
// computes a cell: the patch changes only block n.Layer's output at n.Pos,
// so only the later blocks run, for positions n.Pos onward, with earlier
// positions' keys and values read from the corrupted run. Neurons of one
// layer share batches of up to maxBatchRows residual rows.
func ExactNeurons(ctx context.Context, s *patch.Session, ns []Neuron) ([]patch.Cell, error) {
	out := make([]patch.Cell, len(ns))
	for l := 0; l < s.Model.Layers; l++ {
		var batch []int
		rows := 0
		for i, n := range ns {
			if n.Layer != l {
				continue
			}
			if len(batch) > 0 && rows+s.T()-n.Pos > maxBatchRows {
				if err := exactBatch(ctx, s, ns, batch, out); err != nil {
					return nil, err
				}
				batch, rows = nil, 0
			}
			batch = append(batch, i)
			rows += s.T() - n.Pos
		}
		if err := exactBatch(ctx, s, ns, batch, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// maxBatchRows bounds the residual rows one batch carries, as the sweep does.
const maxBatchRows = 512

// exactBatch computes out[i] for the neurons ns[i], i in batch, all of one layer.
func exactBatch(ctx context.Context, s *patch.Session, ns []Neuron, batch []int, out []patch.Cell) error {
	if len(batch) == 0 {
		return nil
	}
	m := s.Model
	C, T, l := m.Width, s.T(), ns[batch[0]].Layer
	st := &gpt2.Stream{}
	for _, i := range batch {
		n := ns[i]
		delta, err := neuronDelta(s, n)
		if err != nil {
			return err
		}
		x := append([]float32(nil), s.Corrupted.Resid[l][n.Pos*C:]...)
		for k, d := range delta {
			x[k] += d
		}
		st.X = append(st.X, x...)
		st.Segs = append(st.Segs, gpt2.Segment{Start: n.Pos, Len: T - n.Pos, Base: s.Corrupted})
	}
	for b := l + 1; b < m.Layers; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.Block(b, st, nil, nil, b == m.Layers-1)
	}
	last := make([]float32, 0, len(batch)*C)
	r0 := 0
	for _, g := range st.Segs {
		last = append(last, st.X[(r0+g.Len-1)*C:(r0+g.Len)*C]...)
		r0 += g.Len
	}
	two := m.LogitsOf(last, len(batch), []int{s.CleanTarget, s.CorruptedTarget})
	for j, i := range batch {
		out[i] = patch.Cell{Clean: two[2*j], Corrupted: two[2*j+1], LSE: math.NaN()}
	}
	return nil
}
