package analysis

import (
	"slices"

	"errors"
	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/weights"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
)

var michelle = Request{
	Clean:           "Michelle Jones was a top-notch student. Michelle",
	Corrupted:       "Michelle Smith was a top-notch student. Michelle",
	CleanTarget:     " Jones",
	CorruptedTarget: " Smith",
}

var tiny = gpt2.Config{Layers: 4, Heads: 4, Width: 64, Context: 64, Vocab: 50257}

func TestCheckErrors(t *testing.T) {
	tok := bpe.New()
	ok := michelle
	cases := []struct {
		name   string
		edit   func(*Request)
		field  string
		substr []string
	}{
		{"count mismatch", func(r *Request) { r.Corrupted = "Michelle Richardson-Smith was a top-notch student. Michelle" },
			"corrupted", []string{"clean 11: Michelle/ Jones/", "corrupted 13: Michelle/ Richardson/-/Smith/"}},
		{"target of two tokens", func(r *Request) { r.CleanTarget = " Richardson-Smith" }, "clean_target", []string{"is 3 tokens", " Richardson/-/Smith"}},
		{"target without its space", func(r *Request) { r.CorruptedTarget = "Smith" }, "", nil},
		{"empty clean", func(r *Request) { r.Clean = "" }, "clean", []string{"empty"}},
		{"whitespace only", func(r *Request) { r.Corrupted = " \t\n" }, "corrupted", []string{"only whitespace"}},
		{"empty target", func(r *Request) { r.CleanTarget = "" }, "clean_target", []string{"empty"}},
		{"too long", func(r *Request) { r.Clean = strings.Repeat("word ", 100) }, "clean", []string{"more than the model's context of 64"}},
	}
	for _, tc := range cases {
		req := ok
		tc.edit(&req)
		_, err := Check(tok, tiny, req)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("%s: want an InputError, got %v", tc.name, err)
		}
		if ie.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, ie.Field, tc.field)
		}
		for _, s := range tc.substr {
			if !strings.Contains(ie.Msg, s) {
				t.Errorf("%s: message %q lacks %q", tc.name, ie.Msg, s)
			}
		}
	}
}

func TestMismatchMarksFirstDifference(t *testing.T) {
	req := michelle
	req.Corrupted = "Michelle Richardson-Smith was a top-notch student. Michelle"
	_, err := Check(bpe.New(), tiny, req)
	var ie *InputError
	if !errors.As(err, &ie) || ie.FirstDiff != 1 || len(ie.Clean) != 11 || len(ie.Corrupted) != 13 {
		t.Fatalf("got %+v", err)
	}
}

func TestPositionLabels(t *testing.T) {
	tok := bpe.New()
	clean, corrupted := Tokenize(tok, michelle.Clean), Tokenize(tok, michelle.Corrupted)
	labels := PositionLabels(clean, corrupted)
	if labels[1] != "1  Jones→Smith" || labels[0] != "0 Michelle" {
		t.Errorf("labels %q", labels[:2])
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if seen[l] {
			t.Errorf("label %q repeats", l)
		}
		seen[l] = true
	}
}

func TestCheckTextInvalidUTF8(t *testing.T) {
	_, err := CheckText(bpe.New(), tiny, "", "caf\xe9")
	var ie *InputError
	if !errors.As(err, &ie) || ie.Reason != "invalid_utf8" || !strings.HasPrefix(ie.Msg, "the text is not valid UTF-8") {
		t.Fatalf("got %v", err)
	}
}

func TestSameTextsAndTargetsRefused(t *testing.T) {
	tok := bpe.New()
	same := michelle
	same.Corrupted = same.Clean
	var ie *InputError
	if _, err := Check(tok, tiny, same); !errors.As(err, &ie) || ie.Reason != "same_texts" {
		t.Errorf("identical texts: %v", err)
	}
	same = michelle
	same.CorruptedTarget = same.CleanTarget
	if _, err := Check(tok, tiny, same); !errors.As(err, &ie) || ie.Reason != "same_targets" || ie.Field != "corrupted_target" {
		t.Errorf("equal targets: %v", err)
	}
}

func TestTargetWithoutItsSpace(t *testing.T) {
	tok := bpe.New()
	req := michelle
	req.CleanTarget = "Jones"
	w := TargetWarnings(tok, req, Tokenize(tok, req.Clean), Tokenize(tok, req.Corrupted))
	if len(w) != 1 || w[0].Field != "clean_target" || w[0].Fix != " Jones" || !strings.Contains(w[0].Msg, `did you mean " Jones"`) {
		t.Errorf("got %+v", w)
	}
	if w := TargetWarnings(tok, michelle, Tokenize(tok, michelle.Clean), Tokenize(tok, michelle.Corrupted)); len(w) != 0 {
		t.Errorf("the Michelle example warns: %+v", w)
	}
}

func TestUnlikelyTargetWarns(t *testing.T) {
	path, err := fixture.TinyModel()
	if err != nil {
		t.Skip(err)
	}
	m, err := weights.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := bpe.New()
	a, err := New(m, tok, michelle)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's random weights: each target warns exactly when its rank
	// after its own text is beyond UnlikelyRank.
	w := a.RunWarnings()
	for _, f := range []struct {
		field  string
		logits []float32
		id     int
	}{{"clean_target", a.Session.CleanLogits, a.CleanTargetID}, {"corrupted_target", a.Session.CorruptedLogits, a.CorruptedTargetID}} {
		warned := slices.ContainsFunc(w, func(x Warning) bool { return x.Field == f.field && x.Reason == "unlikely_target" })
		rank := patch.Rank(f.logits, f.id)
		if warned != (rank > UnlikelyRank) {
			t.Errorf("%s at rank %d: warned %v", f.field, rank, warned)
		}
	}
	// A target among the top 20 never warns.
	req := michelle
	for _, p := range a.CleanTop {
		if text := tok.DecodeToken(p.ID); slices.Equal(tok.Encode(text), []int{p.ID}) && p.ID != a.CorruptedTargetID {
			req.CleanTarget = text
			break
		}
	}
	b, err := New(m, tok, req)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(b.RunWarnings(), func(x Warning) bool { return x.Field == "clean_target" }) {
		t.Errorf("the most likely token %q warned", req.CleanTarget)
	}
}
