package webfmt

import (
	"testing"

	"github.com/patchlab/patchlab/model/gpt2"
)

func TestLayoutGPT2Small(t *testing.T) {
	ts, sizes, err := layout(gpt2.Small, DefaultBits, MaxShardSize)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sizes {
		if s > MaxShardSize {
			t.Errorf("shard %d: %d bytes", i, s)
		}
	}
	if len(ts) != 20*12+5 {
		t.Errorf("%d tensors, want 20·n_layer + 5 (wte with no low bits)", len(ts))
	}
	for _, tn := range ts {
		want := 1
		if tn.Name == "wte.weight" {
			want = 3 // 38.6 MB of int8
		}
		if len(tn.Parts) != want {
			t.Errorf("%s: %d parts, want %d", tn.Name, len(tn.Parts), want)
		}
	}
	// wte's parts have shards of their own.
	for _, tn := range ts[1:] {
		if tn.Parts[0].Shard <= ts[0].Parts[2].Shard {
			t.Errorf("%s shares a shard with wte.weight", tn.Name)
		}
	}
	m := &Manifest{Format: FormatName, Version: Version, Config: gpt2.Small, Bits: DefaultBits, QNBlock: 64, Tensors: ts}
	for _, s := range sizes {
		m.Shards = append(m.Shards, Shard{File: "s" + string(rune('A'+len(m.Shards))), Size: s, SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	t.Logf("GPT-2 small: %d shards, %d bytes", len(sizes), m.Bytes())
}
