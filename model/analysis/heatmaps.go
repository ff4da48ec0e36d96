package analysis

import (
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Heatmap is one heatmap the page's site selector offers: one or more
// sweeps of the site table stacked top to bottom, and how to read it.
type Heatmap struct {
	Name  string   `json:"name"`
	Label string   `json:"label"`
	Short string   `json:"short"`
	Parts []string `json:"parts"` // site names, top to bottom
	// Help says how to read it, in paragraphs separated by blank lines.
	Help string `json:"help"`
	// Slow: its sweep takes many times longer than resid_post's.
	Slow bool `json:"slow"`
}

const positionsHelp = `Each cell is one run of the corrupted text in which a single activation — the row's layer, the column's position — was replaced by the clean run's. Its colour is the metric of that run's prediction after the last token; the colour bar marks where the two unpatched runs sit. A cell near the clean run's mark restores the clean answer: that activation carries what differs between the texts. A cell near the corrupted run's mark changed nothing.

Information flows from left to right (later positions read earlier ones) and from top to bottom (later layers read earlier ones). Columns before the first token that differs equal the corrupted run: nothing differs there yet.`

// Heatmaps is what the page offers, in its order.
var Heatmaps = []Heatmap{
	{Name: "resid_post", Short: "resid_post", Parts: []string{"embed", "resid_post"},
		Label: "resid_post — residual stream after each block (+ embed)",
		Help:  positionsHelp + "\n\nThe top row (embed) patches the token and position embedding, the input of block 0; row L patches the output of block L. In the last layer only the last position can matter."},
	{Name: "attn_out", Short: "attn_out", Parts: []string{"attn_out"},
		Label: "attn_out — attention output of each block",
		Help:  positionsHelp + "\n\nRow L patches what block L's attention adds to the residual stream at that position: a bright cell is attention moving the information there."},
	{Name: "mlp_out", Short: "mlp_out", Parts: []string{"mlp_out"},
		Label: "mlp_out — MLP output of each block",
		Help:  positionsHelp + "\n\nRow L patches what block L's MLP adds to the residual stream at that position."},
	{Name: "z", Short: "head z", Parts: []string{"z"},
		Label: "z — each attention head, at every position",
		Help: `Each cell is one run of the corrupted text in which one attention head's result — row: its layer, column: the head — was replaced by the clean run's at every position at once. Its colour is the metric of that run's prediction after the last token; the colour bar marks where the two unpatched runs sit. A cell near the clean run's mark is a head that carries what differs between the texts; a cell near the corrupted run's mark changed nothing.

The columns are heads, not positions: to see where in the text a head matters, open "z per position".`},
	{Name: "z_per_position", Short: "head z per position", Parts: []string{"z_per_position"}, Slow: true,
		Label: "z per position — each head at each position (slow)",
		Help:  positionsHelp + "\n\nHere each row is one head (L3.H2: layer 3, head 2) and each cell patches that head's result at one position only."},
}

// SiteInfo is a site of the table as the page needs it for one model.
type SiteInfo struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Rows        int       `json:"rows"`
	RowTitle    string    `json:"row_title"`
	RowLabels   []string  `json:"row_labels"`
	RowGroup    int       `json:"row_group"`
	Columns     string    `json:"columns"` // positions or heads
	ColTitle    string    `json:"col_title"`
	ColLabels   []string  `json:"col_labels,omitempty"`
	RowCost     []float64 `json:"row_cost"`
	// Field and NoiseField are its JSON record fields (patch_*, noise_*).
	Field      string `json:"field"`
	NoiseField string `json:"noise_field"`
}

// SiteInfos is the site table for a model configuration.
func SiteInfos(cfg gpt2.Config) []SiteInfo {
	out := make([]SiteInfo, len(patch.Table))
	for i, e := range patch.Table {
		l := e.Layout(cfg, 0)
		si := SiteInfo{Name: e.Name, Description: e.Description, Rows: l.Rows, RowTitle: l.RowTitle,
			RowLabels: l.RowLabels, RowGroup: l.RowGroup, Columns: "positions", ColTitle: l.ColTitle,
			Field: e.Field, NoiseField: e.NoiseField}
		if e.HeadColumns {
			si.Columns, si.ColLabels = "heads", l.ColLabels
		}
		for r := range l.Rows {
			si.RowCost = append(si.RowCost, e.RowCost(cfg, r))
		}
		out[i] = si
	}
	return out
}

// Direction is a direction of patching as the page's selector offers it
// (patch.Direction by name): a label, the one sentence that says what it
// asks, and how to read a heatmap in it (with the views' help, written
// for denoising).
type Direction struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Question string `json:"question"`
	Help     string `json:"help"`
}

// Directions are denoising (the default) and noising.
var Directions = []Direction{
	{Name: "denoise", Label: "denoise — clean activation into the corrupted run",
		Question: `"Sufficient": is the clean activation enough to restore the clean answer?`,
		Help:     `Denoising: each cell runs the corrupted text with one activation taken from the clean run. A cell that moves the metric to the clean run's value marks an activation sufficient to restore the clean answer.`},
	{Name: "noise", Label: "noise — corrupted activation into the clean run",
		Question: `"Necessary": does corrupting this activation break the clean answer?`,
		Help: `Noising: each cell runs the clean text with one activation taken from the corrupted run (read "clean" for "corrupted" and back in the text below). The metrics keep their meaning: normalized is still 0 at the corrupted run and 1 at the clean run, so a cell near 1 (the clean run's value) is an activation that did not matter, and a cell that falls to the corrupted run's value is one the clean answer needs.

Columns before the first token that differs equal the clean run here.`},
}
