package inspect

import (
	"sync"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// DLA is the direct logit attribution of a run's metric at the last
// position: how much each component of the final residual stream adds to
// the metric directly, through the final LayerNorm (its scale σ taken as
// fixed, from the whole final residual vector) and the unembedding.
//
// A component c contributes ((c − mean(c)) / σ · γ) · d, with γ the final
// LayerNorm's gain and d = W_U[corrupted target] − W_U[clean target].
// Embed + Σ AttnOut + Σ MLPOut + LNFinalBias = Total, and Σ_h Heads[l][h] +
// AttnBias[l] = AttnOut[l] (up to float32 rounding of the run).
type DLA struct {
	Embed       float64     `json:"embed"`         // token + position embedding
	AttnOut     []float64   `json:"attn_out"`      // [L] each attention sublayer's output, bias included
	MLPOut      []float64   `json:"mlp_out"`       // [L] each MLP's output
	Heads       [][]float64 `json:"heads"`         // [L][H] each head's share of its attention output
	AttnBias    []float64   `json:"attn_bias"`     // [L] the attention output projection's bias
	LNFinalBias float64     `json:"ln_final_bias"` // the final LayerNorm's bias · d
	Total       float64     `json:"total"`         // the run's metric
}

// Attribute computes the direct logit attribution of the run tr recorded.
func Attribute(m *gpt2.Model, tr *gpt2.Trace, tg Targets) *DLA {
	c, last := m.Width, tr.T-1
	at := func(act []float32) []float32 { return act[last*c : (last+1)*c] }
	final := at(tr.Resid[m.Layers-1])
	sigma := gpt2.LNScale(final)

	// With w = γ ⊙ d, ((c − mean(c)) / σ · γ) · d = c · (w − mean(w)) / σ.
	clean, corrupted := make([]float32, c), make([]float32, c)
	m.WTE.Row(clean, tg.Clean)
	m.WTE.Row(corrupted, tg.Corrupted)
	d, w := make([]float64, c), make([]float64, c)
	var mean float64
	for i := range c {
		d[i] = float64(corrupted[i]) - float64(clean[i])
		w[i] = float64(m.LNFG[i]) * d[i]
		mean += w[i] / float64(c)
	}
	for i := range w {
		w[i] -= mean
	}
	direct := func(v []float32) float64 {
		var dot float64
		for i, x := range v {
			dot += float64(x) * w[i]
		}
		return dot / sigma
	}

	out := &DLA{Embed: direct(at(tr.Embed))}
	heads := readouts.get(m, tg, w)
	hd := m.HeadDim()
	for l := range m.Layers {
		out.AttnOut = append(out.AttnOut, direct(at(tr.AttnOut[l])))
		out.MLPOut = append(out.MLPOut, direct(at(tr.MLPOut[l])))
		z := at(tr.Z[l])
		row := make([]float64, m.Heads)
		for h := range row {
			for i := h * hd; i < (h+1)*hd; i++ {
				row[h] += float64(z[i]) * heads[l][i]
			}
			row[h] /= sigma
		}
		out.Heads = append(out.Heads, row)
		out.AttnBias = append(out.AttnBias, direct(m.Blocks[l].ProjB))
	}
	for i, b := range m.LNFB {
		out.LNFinalBias += float64(b) * d[i]
	}
	logits := m.LogitsOf(final, 1, []int{tg.Clean, tg.Corrupted})
	out.Total = float64(logits[1]) - float64(logits[0])
	return out
}

// readouts keeps the last headReadouts: both runs of an analysis share
// them (the same model and targets), and they read every W_O. A model's
// weights must not change after its first attribution.
var readouts readoutCache

type readoutCache struct {
	mu sync.Mutex
	m  *gpt2.Model
	tg Targets
	u  [][]float64
}

func (c *readoutCache) get(m *gpt2.Model, tg Targets, w []float64) [][]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m != m || c.tg != tg {
		c.m, c.tg, c.u = m, tg, headReadouts(m, w)
	}
	return c.u
}

func (c *readoutCache) reset() {
	c.mu.Lock()
	c.m, c.u = nil, nil
	c.mu.Unlock()
}

// headReadouts is, for every block l, u = W_Oᵀ·w: head h's output at a
// position is W_O,h·z_h (its slice of z times its columns of the output
// projection), so its contribution (W_O,h·z_h)·w / σ is z_h · u_h / σ.
func headReadouts(m *gpt2.Model, w []float64) [][]float64 {
	out := make([][]float64, m.Layers)
	tensor.Parallel(m.Layers, 1, m.Layers*m.Width*m.Width, func(lo, hi int) {
		c := m.Width
		rows := make([]float32, 4*c)
		for l := lo; l < hi; l++ {
			proj := m.Blocks[l].Proj
			u := make([]float64, proj.Cols())
			// Four rows of W_O at a time, each u[k] still summed in row
			// order: the same sums, a quarter of the passes over u.
			o := 0
			for ; o+4 <= len(w); o += 4 {
				for i := range 4 {
					proj.Row(rows[i*c:(i+1)*c], o+i)
				}
				w0, w1, w2, w3 := w[o], w[o+1], w[o+2], w[o+3]
				r0, r1, r2, r3 := rows[:c], rows[c:2*c], rows[2*c:3*c], rows[3*c:4*c]
				for k := range u {
					u[k] = u[k] + w0*float64(r0[k]) + w1*float64(r1[k]) + w2*float64(r2[k]) + w3*float64(r3[k])
				}
			}
			for ; o < len(w); o++ {
				proj.Row(rows[:c], o)
				for k, x := range rows[:c] {
					u[k] += w[o] * float64(x)
				}
			}
			out[l] = u
		}
	})
	return out
}

// Sum is the parts that add up to the total: Embed + Σ AttnOut + Σ MLPOut +
// LNFinalBias.
func (d *DLA) Sum() float64 {
	s := d.Embed + d.LNFinalBias
	for l := range d.AttnOut {
		s += d.AttnOut[l] + d.MLPOut[l]
	}
	return s
}
