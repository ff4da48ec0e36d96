package atp

import (
	"context"

	"github.com/patchlab/patchlab/model/patch"
)

// Field is one of the estimates as the JSON record names it.
type Field struct {
	Name  string // the site table's ATPField
	Value any    // [rows][cols]float64, or []float64 for a one-row site
}

// Fields are the estimates of every site of the table, in its order, as
// the CLI's JSON and the page carry them (views-golden.json's atp_* names).
func (e *Estimates) Fields() ([]Field, error) {
	var out []Field
	for _, spec := range patch.Table {
		rows, cols, vals, err := e.Site(spec.Site)
		if err != nil {
			return nil, err
		}
		if spec.Rows == patch.OneRow {
			out = append(out, Field{spec.ATPField, vals})
			continue
		}
		mx := make([][]float64, rows)
		for r := range mx {
			mx[r] = vals[r*cols : (r+1)*cols]
		}
		out = append(out, Field{spec.ATPField, mx})
	}
	return out, nil
}

// NeuronRecord is a neuron as the JSON record lists it (atp_neurons):
// its estimate and, when computed, the exact change of the logit
// difference that patching it alone makes.
type NeuronRecord struct {
	Layer    int      `json:"layer"`
	Position int      `json:"position"`
	Neuron   int      `json:"neuron"`
	Estimate float64  `json:"estimate"`
	Exact    *float64 `json:"exact,omitempty"`
}

// NeuronRecords lists the neurons, with their exact changes (patched −
// unpatched corrupted logit difference, ExactNeurons) when exact.
func NeuronRecords(ctx context.Context, s *patch.Session, ns []Neuron, exact bool) ([]NeuronRecord, error) {
	out := make([]NeuronRecord, len(ns))
	for i, n := range ns {
		out[i] = NeuronRecord{Layer: n.Layer, Position: n.Pos, Neuron: n.Index, Estimate: n.Estimate}
	}
	if !exact || len(ns) == 0 {
		return out, nil
	}
	cells, err := ExactNeurons(ctx, s, ns)
	if err != nil {
		return nil, err
	}
	for i, c := range cells {
		d := c.Diff() - s.CorruptedBase.Diff()
		out[i].Exact = &d
	}
	return out, nil
}
