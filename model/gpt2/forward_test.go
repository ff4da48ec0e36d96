package gpt2

import (
	"slices"
	"strings"
	"testing"
)

var small = Config{Layers: 2, Heads: 2, Width: 32, Context: 8, Vocab: 50}

// TestTraceIsACopy: a trace keeps its values when later runs (and hooks
// that scribble on the activations) reuse the model.
func TestTraceIsACopy(t *testing.T) {
	m := Random(small, 3)
	_, tr, err := m.Forward([]int{1, 2, 3}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	keep := slices.Clone(tr.Resid[0])
	scribble := func(s Site, start int, act []float32) {
		for i := range act {
			act[i] = 42
		}
	}
	if _, _, err := m.Forward([]int{4, 5, 6}, scribble, false); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keep, tr.Resid[0]) {
		t.Fatal("a later run changed a recorded activation")
	}
}

// TestHookReplaces: replacing an activation changes the output exactly as
// running from that activation does; a hook that changes nothing changes
// nothing; recording does not change the logits.
func TestHookReplaces(t *testing.T) {
	m := Random(small, 4)
	ids := []int{7, 8, 9, 10}
	plain, _, _ := m.Forward(ids, nil, false)
	recorded, tr, _ := m.Forward(ids, nil, true)
	if !slices.Equal(plain, recorded) {
		t.Fatal("recording changed the logits")
	}
	seen := map[Site]bool{}
	identity := func(s Site, start int, act []float32) { seen[s] = true }
	same, _, _ := m.Forward(ids, identity, false)
	if !slices.Equal(plain, same) {
		t.Fatal("a hook that changes nothing changed the logits")
	}
	if len(seen) != 1+4*small.Layers {
		t.Errorf("the hook saw %d sites, want %d", len(seen), 1+4*small.Layers)
	}
	// Zero the last block's MLP output at the last position: the logits are
	// then those of resid_mid's last row.
	last := small.Layers - 1
	zero := func(s Site, start int, act []float32) {
		if s == (Site{MLPOut, last}) {
			clear(act[(len(ids)-1-start)*small.Width:])
		}
	}
	got, _, _ := m.Forward(ids, zero, false)
	mid := make([]float32, small.Width)
	add(mid, tr.ResidPre(last)[(len(ids)-1)*small.Width:], tr.AttnOut[last][(len(ids)-1)*small.Width:])
	want := m.Logits(mid, 1)
	if !slices.Equal(got, want) {
		t.Fatal("zeroing mlp_out did not give the logits of resid_mid")
	}
	sel := m.LogitsOf(mid, 1, []int{3, 0, 49})
	if sel[0] != want[3] || sel[1] != want[0] || sel[2] != want[49] {
		t.Fatal("LogitsOf differs from Logits")
	}
}

func TestCheckIDs(t *testing.T) {
	m := Random(small, 5)
	for _, tc := range []struct {
		ids  []int
		want string
	}{
		{nil, "empty"}, {make([]int, 9), "longer than the model's context of 8"}, {[]int{1, 50}, "outside the vocabulary"}, {[]int{-1}, "outside the vocabulary"},
	} {
		_, _, err := m.Forward(tc.ids, nil, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.ids, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	m := Random(small, 6)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	m.Blocks[1].FCB = m.Blocks[1].FCB[:3]
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "h.1.mlp.c_fc.bias") {
		t.Fatalf("got %v, want an error naming h.1.mlp.c_fc.bias", err)
	}
}
