package webfmt

import (
	"slices"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
)

// TestQuantizeIsIdempotent: quantising a quantised model changes nothing.
func TestQuantizeIsIdempotent(t *testing.T) {
	m := Quantize(gpt2.Random(gpt2.Config{Layers: 1, Heads: 2, Width: 64, Context: 8, Vocab: 50}, 7), 11)
	a, _, _ := m.Forward([]int{1, 2}, nil, false)
	b, _, _ := Quantize(m, 11).Forward([]int{1, 2}, nil, false)
	if !slices.Equal(a, b) {
		t.Fatal("Quantize changed a quantised model")
	}
}

// TestCheckBits: the format has 9- to 16-bit codes for the block matrices
// (wte's one narrower, at least 8), and Quantize refuses the others.
func TestCheckBits(t *testing.T) {
	for bits := 0; bits <= 20; bits++ {
		err := CheckBits(bits)
		if want := bits >= 9 && bits <= 16; (err == nil) != want {
			t.Errorf("CheckBits(%d) = %v", bits, err)
		} else if err != nil && !strings.Contains(err.Error(), "9…16") {
			t.Errorf("CheckBits(%d) = %q, want it to name 9…16", bits, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Quantize(m, 8) did not panic")
		}
	}()
	Quantize(gpt2.Random(gpt2.Config{Layers: 1, Heads: 2, Width: 64, Context: 8, Vocab: 50}, 7), 8)
}
