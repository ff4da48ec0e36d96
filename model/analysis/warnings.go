package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/patch"
)

// Warning is a likely mistake that does not stop a run. Fix, when set, is
// the value the field probably should have.
type Warning struct {
	Field  string `json:"field"`
	Reason string `json:"reason"` // leading_space, unlikely_target
	Msg    string `json:"message"`
	Fix    string `json:"fix,omitempty"`
}

// TargetWarnings finds targets that lack the leading space their word has
// in the text: "Jones" and " Jones" are different tokens, and the text
// (clean or corrupted, already tokenized) holds the second.
func TargetWarnings(tok *bpe.Tokenizer, req Request, clean, corrupted []Token) []Warning {
	var out []Warning
	for _, f := range []struct {
		field, target, textName string
		text                    []Token
	}{
		{"clean_target", req.CleanTarget, "clean", clean},
		{"corrupted_target", req.CorruptedTarget, "corrupted", corrupted},
	} {
		t := f.target
		if t == "" || strings.HasPrefix(t, " ") || len(tok.Encode(t)) != 1 {
			continue
		}
		spaced := tok.Encode(" " + t)
		if len(spaced) != 1 || !slices.ContainsFunc(f.text, func(x Token) bool { return x.ID == spaced[0] }) {
			continue
		}
		name := strings.ReplaceAll(f.field, "_", " ")
		out = append(out, Warning{Field: f.field, Reason: "leading_space", Fix: " " + t,
			Msg: fmt.Sprintf("the %s %q has no leading space, but the %s text has %q with one, a different token: did you mean %q?", name, t, f.textName, " "+t, " "+t)})
	}
	return out
}

// UnlikelyRank is the rank beyond which a target counts as not among the
// likely next tokens at all.
const UnlikelyRank = 100

// RunWarnings finds targets the model hardly considers after their own
// text: the clean target after the clean text, the corrupted target after
// the corrupted one. Patching still works, but the metric then measures
// two tokens the model does not predict.
func (a *Analysis) RunWarnings() []Warning {
	s := a.Session
	var out []Warning
	for _, f := range []struct {
		field, target, textName string
		logits                  []float32
		id                      int
	}{
		{"clean_target", a.CleanTarget, "clean", s.CleanLogits, a.CleanTargetID},
		{"corrupted_target", a.CorruptedTarget, "corrupted", s.CorruptedLogits, a.CorruptedTargetID},
	} {
		rank := patch.Rank(f.logits, f.id)
		if rank <= UnlikelyRank {
			continue
		}
		p := patch.Prob1(f.logits, f.id)
		out = append(out, Warning{Field: f.field, Reason: "unlikely_target",
			Msg: fmt.Sprintf("the model hardly expects the %s %q after the %s text (rank %d, probability %.2g): the heatmap will measure a token it does not predict; the top-20 table shows what it does expect",
				strings.ReplaceAll(f.field, "_", " "), f.target, f.textName, rank, p)})
	}
	return out
}
