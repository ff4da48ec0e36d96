package promptset

import (
	"slices"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
)

func TestWordListsAreSingleTokens(t *testing.T) {
	tok := bpe.New()
	var words []string
	words = append(words, ioiNames...)
	words = append(words, ioiPlaces...)
	words = append(words, ioiObjects...)
	for _, c := range capitals {
		words = append(words, c[0], c[1])
	}
	for _, w := range words {
		if n := len(tok.Encode(" " + w)); n != 1 {
			t.Errorf("%q is %d tokens", " "+w, n)
		}
	}
}

// TestGenerators: every generated pair passes the checks, all pairs of a
// set have one length and differ exactly where the docs say, the answers
// flip, and the same seed gives the same pairs.
func TestGenerators(t *testing.T) {
	tok := bpe.New()
	for _, g := range []struct {
		spec   string
		tokens int
		diff   []int
		tmpls  []string
	}{
		{"ioi:30", 14, []int{9}, []string{"ABBA", "BABA"}},
		{"factual:30", 5, []int{3}, []string{"capital"}},
	} {
		pairs, err := Generate(g.spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Generate(g.spec, 1)
		other, _ := Generate(g.spec, 2)
		if !slices.Equal(pairs, again) || slices.Equal(pairs, other) {
			t.Errorf("%s: not deterministic by seed", g.spec)
		}
		if len(pairs) != 30 {
			t.Fatalf("%s: %d pairs", g.spec, len(pairs))
		}
		seen := map[string]bool{}
		for _, p := range pairs {
			a, err := analysis.Check(tok, gpt2.Small, p.Request)
			if err != nil {
				t.Fatalf("%s: %+v: %v", g.spec, p, err)
			}
			var diff []int
			for i := range a.CleanTokens {
				if a.CleanTokens[i].ID != a.CorruptedTokens[i].ID {
					diff = append(diff, i)
				}
			}
			if len(a.CleanTokens) != g.tokens || !slices.Equal(diff, g.diff) || a.CleanTargetID == a.CorruptedTargetID {
				t.Errorf("%s: %q / %q: %d tokens, differing at %v", g.spec, p.Clean, p.Corrupted, len(a.CleanTokens), diff)
			}
			seen[p.Template] = true
		}
		for _, tm := range g.tmpls {
			if !seen[tm] {
				t.Errorf("%s: no %s pair", g.spec, tm)
			}
		}
	}
	p := IOI(2, 3)
	// ABBA: the indirect object is named first; BABA: second. The clean
	// target is the name that is not repeated.
	for i, want := range []string{"ABBA", "BABA"} {
		a, _ := analysis.Check(tok, gpt2.Small, p[i].Request)
		io, s1, s2 := a.CleanTargetID, a.CleanTokens[1].ID, a.CleanTokens[3].ID
		if p[i].Template != want || (want == "ABBA") != (io == s1) || (want == "BABA") != (io == s2) || a.CleanTokens[9].ID == io || a.CorruptedTokens[9].ID != io {
			t.Errorf("%s: %q → %q, corrupted %q", want, p[i].Clean, p[i].CleanTarget, p[i].Corrupted)
		}
	}
	for _, bad := range []string{"ioi", "ioi:0", "ioi:x", "nope:3"} {
		if _, err := Generate(bad, 1); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
