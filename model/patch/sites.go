package patch

import (
	"fmt"
	"strings"

	"github.com/patchlab/patchlab/model/gpt2"
)

// Site is what a sweep patches: an activation kind, and for z whether one
// head is patched at every position at once or one position at a time. Its
// entry in Table says everything else about it.
type Site struct {
	Kind        gpt2.SiteKind
	PerPosition bool
}

// Spec is one entry of the site table: what the sweep, the JSON record, the
// CLI's help and figures and the page know about a site.
type Spec struct {
	Site
	// Name is the site's name everywhere (TransformerLens's spelling).
	Name string
	// Field and NoiseField are the JSON record's fields for its
	// logit-difference matrix when denoising and when noising (FieldFor).
	Field, NoiseField string
	// Description is one line for help texts.
	Description string
	// Rows is the matrix's row axis; its columns are positions, or heads
	// when HeadColumns.
	Rows        RowAxis
	HeadColumns bool
	// patch writes into st.x the state a patch at cell (r, c) leaves
	// behind, given the rest of the patched run's rows at st.layer (see
	// startOf).
	patch func(p *pass, st *start, r, c int)
}

// RowAxis is what a site's rows are.
type RowAxis uint8

const (
	OneRow     RowAxis = iota // the embedding: one row
	Layers                    // one row per layer
	LayerHeads                // one row per (layer, head), row L·Heads+h
)

// Table is every site a sweep can patch, in the order the CLI and the page
// present them. Adding a site is one entry here plus its patch function.
var Table = []Spec{
	{Site: Site{Kind: gpt2.ResidPost}, Name: "resid_post", Field: "patch_resid_post", NoiseField: "noise_resid_post", Rows: Layers, patch: patchResidPost,
		Description: "the residual stream after each block"},
	{Site: Site{Kind: gpt2.Embed}, Name: "embed", Field: "patch_embed", NoiseField: "noise_embed", Rows: OneRow, patch: patchEmbed,
		Description: "token + position embedding, the input of block 0"},
	{Site: Site{Kind: gpt2.AttnOut}, Name: "attn_out", Field: "patch_attn_out", NoiseField: "noise_attn_out", Rows: Layers, patch: patchAttnOut,
		Description: "each block's attention output (before the residual add)"},
	{Site: Site{Kind: gpt2.MLPOut}, Name: "mlp_out", Field: "patch_mlp_out", NoiseField: "noise_mlp_out", Rows: Layers, patch: patchMLPOut,
		Description: "each block's MLP output (before the residual add)"},
	{Site: Site{Kind: gpt2.Z}, Name: "z", Field: "patch_head_z_all_positions", NoiseField: "noise_head_z_all_positions", Rows: Layers, HeadColumns: true, patch: patchHeadEverywhere,
		Description: "each head's result (input of c_proj), at every position at once"},
	{Site: Site{Kind: gpt2.Z, PerPosition: true}, Name: "z_per_position", Field: "patch_head_z_per_position", NoiseField: "noise_head_z_per_position", Rows: LayerHeads, patch: patchHeadAt,
		Description: "each head's result at one position at a time (slow)"},
}

// Sites is every site of the table, in its order.
var Sites = func() []Site {
	out := make([]Site, len(Table))
	for i, e := range Table {
		out[i] = e.Site
	}
	return out
}()

// Spec is the site's entry in Table.
func (s Site) Spec() *Spec {
	for i := range Table {
		if Table[i].Site == s {
			return &Table[i]
		}
	}
	panic(fmt.Sprintf("patch: site %d/%v is not in the table", s.Kind, s.PerPosition))
}

func (s Site) String() string {
	for i := range Table {
		if Table[i].Site == s {
			return Table[i].Name
		}
	}
	return fmt.Sprintf("Site(%d,%v)", s.Kind, s.PerPosition)
}

// SiteNames lists the table's names, comma-separated, for messages.
func SiteNames() string {
	names := make([]string, len(Table))
	for i, e := range Table {
		names[i] = e.Name
	}
	return strings.Join(names, ", ")
}

// ParseSite reads a site by its name.
func ParseSite(name string) (Site, error) {
	for _, e := range Table {
		if e.Name == name {
			return e.Site, nil
		}
	}
	return Site{}, fmt.Errorf("unknown site %q (want one of %s)", name, SiteNames())
}

// Layout is a site's matrix for one model and text length: its size and
// how to label it. Position columns have no labels here: the text's tokens
// name them (analysis.PositionLabels).
type Layout struct {
	Rows, Cols         int
	RowTitle, ColTitle string
	RowLabels          []string
	ColLabels          []string // heads; nil for positions
	RowGroup           int      // rows come in groups of this many (a layer's heads), or 0
}

// Layout is the site's matrix for a model configuration and t tokens.
func (s Site) Layout(cfg gpt2.Config, t int) Layout {
	e := s.Spec()
	l := Layout{Cols: t, RowTitle: "layer", ColTitle: "position"}
	switch e.Rows {
	case OneRow:
		l.Rows, l.RowLabels = 1, []string{"embed"}
	case Layers:
		l.Rows, l.RowLabels = cfg.Layers, Numbered("", cfg.Layers)
	case LayerHeads:
		l.Rows, l.RowTitle, l.RowGroup = cfg.Layers*cfg.Heads, "layer.head", cfg.Heads
		for r := range l.Rows {
			l.RowLabels = append(l.RowLabels, HeadLabel(r/cfg.Heads, r%cfg.Heads))
		}
	}
	if e.HeadColumns {
		l.Cols, l.ColTitle, l.ColLabels = cfg.Heads, "head (patched at every position)", Numbered("H", cfg.Heads)
	}
	return l
}

// HeadLabel names head h of layer l: L3.H2.
func HeadLabel(l, h int) string { return fmt.Sprintf("L%d.H%d", l, h) }

// Numbered is prefix0, prefix1, … prefix(n−1).
func Numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func (s Site) valid() bool {
	for _, e := range Table {
		if e.Site == s {
			return true
		}
	}
	return false
}

// layerOf is the layer of row r (−1: the embedding).
func (s Site) layerOf(r, heads int) int {
	switch s.Spec().Rows {
	case OneRow:
		return -1
	case LayerHeads:
		return r / heads
	}
	return r
}

// RowCost is how many blocks a row's cells recompute, for progress
// estimates: the blocks after the patched one, and a little for the rest.
func (s Site) RowCost(cfg gpt2.Config, r int) float64 {
	l := s.layerOf(r, cfg.Heads)
	if s.Kind == gpt2.ResidPost {
		l++ // the patched block's output is given: its own block is not rerun
	}
	return float64(cfg.Layers-max(l, 0)) + 0.2
}
