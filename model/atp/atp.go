// Package atp is attribution patching: every cell of every patching sweep
// estimated at once from one backward pass. A patch that replaces the
// corrupted run's activation a with the clean run's changes the metric by
// about (a_clean − a_corrupted)·∂metric/∂a, the gradient taken on the
// corrupted run (Nanda 2023; AtP in Kramár et al. 2024). The estimate is
// first order: it is good where the metric is nearly linear in the patched
// activation and fails where a patch moves a saturated softmax.
package atp

import (
	"container/heap"
	"fmt"
	"sort"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Estimates are the estimated changes of the logit difference
// (patched − unpatched corrupted run) for every cell of every site, in the
// layout of patch.Session.Sweep's matrices.
type Estimates struct {
	ResidPost, AttnOut, MLPOut [][]float64 // [L][T]
	Embed                      []float64   // [T]
	HeadZ                      [][]float64 // [L][H]: a head's z at every position at once
	HeadZPos                   [][]float64 // [L·H][T]: row l·H+h
	// Neurons are the MLP neurons (after GELU) of largest |estimate|,
	// largest first: too many (L·T·4·Width) to keep them all.
	Neurons []Neuron
	// Grad is the corrupted run's gradient the estimates came from.
	Grad *gpt2.Grad
}

// Neuron is one MLP neuron (after GELU) at one position, with its estimate.
type Neuron struct {
	Layer, Pos, Index int
	Estimate          float64
}

// Estimate runs the backward pass of the logit difference on the session's
// corrupted run and estimates every cell, keeping the topNeurons neurons of
// largest |estimate|.
func Estimate(s *patch.Session, topNeurons int) (*Estimates, error) {
	m := s.Model
	// Before the texts' first difference every estimate is 0 (both runs
	// agree there): the gradient is not needed there.
	g, err := m.BackwardFrom(s.Corrupted, []int{s.CorruptedTarget, s.CleanTarget}, []float32{1, -1}, min(s.FirstDiff, s.T()-1))
	if err != nil {
		return nil, err
	}
	L, H, T, C := m.Layers, m.Heads, s.T(), m.Width
	cl, co := s.Clean, s.Corrupted
	e := &Estimates{Grad: g, Embed: rowDots(cl.Embed, co.Embed, g.Embed, T, C)}
	for l := 0; l < L; l++ {
		e.ResidPost = append(e.ResidPost, rowDots(cl.Resid[l], co.Resid[l], g.Resid[l], T, C))
		e.AttnOut = append(e.AttnOut, rowDots(cl.AttnOut[l], co.AttnOut[l], g.AttnOut[l], T, C))
		e.MLPOut = append(e.MLPOut, rowDots(cl.MLPOut[l], co.MLPOut[l], g.MLPOut[l], T, C))
		// A head's slice of z: per position, and summed over positions.
		d := m.HeadDim()
		all := make([]float64, H)
		for h := 0; h < H; h++ {
			per := make([]float64, T)
			for p := 0; p < T; p++ {
				o := p*C + h*d
				per[p] = dotDiff(cl.Z[l][o:o+d], co.Z[l][o:o+d], g.Z[l][o:o+d])
				all[h] += per[p]
			}
			e.HeadZPos = append(e.HeadZPos, per)
		}
		e.HeadZ = append(e.HeadZ, all)
	}
	e.Neurons = topNeuronsOf(s, g, topNeurons)
	return e, nil
}

// rowDots is Σ_k (clean − corrupted)[p][k]·grad[p][k] for each of T rows.
func rowDots(clean, corrupted, grad []float32, T, C int) []float64 {
	out := make([]float64, T)
	for p := range out {
		out[p] = dotDiff(clean[p*C:(p+1)*C], corrupted[p*C:(p+1)*C], grad[p*C:(p+1)*C])
	}
	return out
}

func dotDiff(clean, corrupted, grad []float32) float64 {
	var s float64
	for k, g := range grad {
		s += (float64(clean[k]) - float64(corrupted[k])) * float64(g)
	}
	return s
}

// topNeuronsOf estimates every neuron and keeps the k of largest |estimate|.
// Positions before the texts' first difference have equal activations in
// both runs, so their estimates are 0 and are skipped.
func topNeuronsOf(s *patch.Session, g *gpt2.Grad, k int) []Neuron {
	m := s.Model
	F, T := 4*m.Width, s.T()
	from := s.FirstDiff
	top := &neuronHeap{}
	for l := 0; l < m.Layers && k > 0; l++ {
		if l == m.Layers-1 {
			from = max(from, T-1) // the only position of the last block the metric reads
		}
		clean, co := m.NeuronActs(s.Clean, l, from), m.NeuronActs(s.Corrupted, l, from)
		grad := g.Neurons[l][from*F:]
		for p := from; p < T; p++ {
			for i := 0; i < F; i++ {
				o := (p-from)*F + i
				est := (float64(clean[o]) - float64(co[o])) * float64(grad[o])
				if est == 0 {
					continue
				}
				n := Neuron{Layer: l, Pos: p, Index: i, Estimate: est}
				if top.Len() < k {
					heap.Push(top, n)
				} else if before(n, (*top)[0]) {
					(*top)[0] = n
					heap.Fix(top, 0)
				}
			}
		}
	}
	out := []Neuron(*top)
	sort.Slice(out, func(a, b int) bool { return before(out[a], out[b]) })
	return out
}

// before ranks neurons: larger |estimate| first, then by layer, position, index.
func before(a, b Neuron) bool {
	if x, y := abs(a.Estimate), abs(b.Estimate); x != y {
		return x > y
	}
	if a.Layer != b.Layer {
		return a.Layer < b.Layer
	}
	if a.Pos != b.Pos {
		return a.Pos < b.Pos
	}
	return a.Index < b.Index
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// neuronHeap has the lowest-ranked kept neuron on top.
type neuronHeap []Neuron

func (h neuronHeap) Len() int           { return len(h) }
func (h neuronHeap) Less(i, j int) bool { return before(h[j], h[i]) }
func (h neuronHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *neuronHeap) Push(x any)        { *h = append(*h, x.(Neuron)) }
func (h *neuronHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// Site is the estimate of a sweep site as patch.Session.Sweep lays it out:
// rows × cols values, row-major.
func (e *Estimates) Site(site patch.Site) (rows, cols int, vals []float64, err error) {
	var mx [][]float64
	switch {
	case site.Kind == gpt2.Embed:
		mx = [][]float64{e.Embed}
	case site.Kind == gpt2.ResidPost:
		mx = e.ResidPost
	case site.Kind == gpt2.AttnOut:
		mx = e.AttnOut
	case site.Kind == gpt2.MLPOut:
		mx = e.MLPOut
	case site.Kind == gpt2.Z && site.PerPosition:
		mx = e.HeadZPos
	case site.Kind == gpt2.Z:
		mx = e.HeadZ
	default:
		return 0, 0, nil, fmt.Errorf("unknown site %v", site)
	}
	rows, cols = len(mx), len(mx[0])
	for _, r := range mx {
		vals = append(vals, r...)
	}
	return rows, cols, vals, nil
}

// Ranked is one cell of a site's matrix with its estimate.
type Ranked struct {
	Row, Col int
	Estimate float64
}

// TopCells is the k cells of a rows × cols matrix (row-major) of largest
// |estimate|, largest first (ties in row-major order).
func TopCells(vals []float64, cols, k int) []Ranked {
	cells := make([]Ranked, len(vals))
	for i, v := range vals {
		cells[i] = Ranked{Row: i / cols, Col: i % cols, Estimate: v}
	}
	sort.SliceStable(cells, func(a, b int) bool { return abs(cells[a].Estimate) > abs(cells[b].Estimate) })
	return cells[:min(k, len(cells))]
}

// Rows is the distinct rows of the cells, in increasing order: what
// patch.Options.Rows takes to sweep exactly only the rows they lie in.
func Rows(cells []Ranked) []int {
	seen := map[int]bool{}
	var rows []int
	for _, c := range cells {
		if !seen[c.Row] {
			seen[c.Row] = true
			rows = append(rows, c.Row)
		}
	}
	sort.Ints(rows)
	return rows
}
