package gpt2

import "fmt"

// SiteKind is a kind of activation, named as TransformerLens names it.
type SiteKind uint8

const (
	// Embed is token + position embedding: the input of block 0.
	Embed SiteKind = iota
	// ResidPost is the output of block L: the residual stream after layer L.
	ResidPost
	// AttnOut is block L's attention output (after c_proj, before the residual add).
	AttnOut
	// MLPOut is block L's MLP output (before the residual add).
	MLPOut
	// Z is block L's per-head attention result, the input of c_proj: head h
	// is columns [h·HeadDim, (h+1)·HeadDim) of each row.
	Z
)

var siteNames = [...]string{Embed: "embed", ResidPost: "resid_post", AttnOut: "attn_out", MLPOut: "mlp_out", Z: "z"}

func (k SiteKind) String() string {
	if int(k) < len(siteNames) {
		return siteNames[k]
	}
	return fmt.Sprintf("SiteKind(%d)", k)
}

// Site is one activation of a run: a kind at a layer (Layer is 0 for Embed).
// Every site is T rows of Width values, one row per position.
type Site struct {
	Kind  SiteKind
	Layer int
}

func (s Site) String() string {
	if s.Kind == Embed {
		return "embed"
	}
	return fmt.Sprintf("%s.%d", s.Kind, s.Layer)
}

// Hook sees an activation during a run and may change it in place. act holds
// rows for positions start, start+1, … of the sequence (Width values each).
// A hook must not keep act: copy what it records.
type Hook func(site Site, start int, act []float32)

// ResidAfter is the output of block l, or the embedding for l = −1.
func (tr *Trace) ResidAfter(l int) []float32 {
	if l < 0 {
		return tr.Embed
	}
	return tr.Resid[l]
}

// Add sets dst = a + b, elementwise, as the blocks add to the residual.
func Add(dst, a, b []float32) { add(dst, a, b) }
