package gpt2

import "fmt"

// The released GPT-2 sizes, by their configuration.
var (
	Medium = Config{Layers: 24, Heads: 16, Width: 1024, Context: 1024, Vocab: 50257}
	Large  = Config{Layers: 36, Heads: 20, Width: 1280, Context: 1024, Vocab: 50257}
	XL     = Config{Layers: 48, Heads: 25, Width: 1600, Context: 1024, Vocab: 50257}
)

// Name is what the model is called in every message, page and figure:
// one of the released GPT-2 sizes, or a description that never claims to
// be one (a model with GPT-2 small's shape need not be GPT-2 small: only
// the published-numbers check can say that).
func (c Config) Name() string {
	switch c {
	case Small:
		return "GPT-2 small"
	case Medium:
		return "GPT-2 medium"
	case Large:
		return "GPT-2 large"
	case XL:
		return "GPT-2 XL"
	}
	if c.Width < Small.Width {
		return fmt.Sprintf("a %d-layer test model", c.Layers)
	}
	return fmt.Sprintf("a %d-layer GPT-2-shaped model", c.Layers)
}
