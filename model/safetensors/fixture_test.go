package safetensors

import (
	"math"
	"testing"
)

// fixtures is where CI keeps the shared fixtures, beside the checkout.
const fixtures = "../../../shared/fixtures/tiny-gpt2/"

func TestFixtures(t *testing.T) {
	f32, err := Open(fixtures + "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f32.Close()
	f16, err := Open(fixtures + "model-f16.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f16.Close()
	if len(f32.Tensors) != 4*12+4 || len(f16.Tensors) != len(f32.Tensors) {
		t.Fatalf("%d and %d tensors, want 52", len(f32.Tensors), len(f16.Tensors))
	}
	if f32.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f32.Metadata)
	}
	for _, name := range f32.Names() {
		a, b := f32.Tensors[name], f16.Tensors[name]
		if a.DType != "F32" || b.DType != "F16" || a.Numel() != b.Numel() {
			t.Fatalf("%s: %+v vs %+v", name, a, b)
		}
		va, err := f32.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		vb, err := f16.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range va {
			if math.Abs(float64(va[i]-vb[i])) > 1e-3 {
				t.Fatalf("%s[%d]: F32 %v, F16 %v", name, i, va[i], vb[i])
			}
		}
	}
	if s := f32.Tensors["h.0.attn.c_attn.weight"].Shape; len(s) != 2 || s[0] != 64 || s[1] != 192 {
		t.Errorf("c_attn shape %v", s)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(fixtures + "missing.safetensors"); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := Open(fixtures); err == nil {
		t.Error("directory: no error")
	}
	if _, err := Open(fixtures + "config.json"); err == nil {
		t.Error("JSON file: no error")
	}
}
