// Package analysis is one activation-patching analysis from texts to
// results: it tokenizes and checks the user's input, runs the two texts,
// sweeps sites and writes the record that the CLI and the page export.
// Both front ends call it, so they agree on every message and field.
package analysis

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Token is one token of a text.
type Token struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// Tokenize splits text into tokens.
func Tokenize(tok *bpe.Tokenizer, text string) []Token {
	ids := tok.Encode(text)
	out := make([]Token, len(ids))
	for i, id := range ids {
		out[i] = Token{ID: id, Text: tok.DecodeToken(id)}
	}
	return out
}

// OneLine shows control characters as escapes (\n, \t, \x00…), so that a
// token or text prints on one line of a table or a terminal.
func OneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Join shows tokens as the assignment does: Michelle/ Jones/ was/ …
func Join(ts []Token) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Text
	}
	return strings.Join(parts, "/")
}

// Request is what the user asks for.
type Request struct {
	Clean           string `json:"clean"`
	Corrupted       string `json:"corrupted"`
	CleanTarget     string `json:"clean_target"`
	CorruptedTarget string `json:"corrupted_target"`
}

// InputError is input the user must fix. Its fields carry what to show
// beside the message: the tokenizations involved.
type InputError struct {
	Msg       string  `json:"message"`
	Field     string  `json:"field"`  // clean, corrupted, clean_target, corrupted_target
	Reason    string  `json:"reason"` // empty, whitespace, invalid_utf8, too_long, count_mismatch, not_one_token
	Clean     []Token `json:"clean_tokens,omitempty"`
	Corrupted []Token `json:"corrupted_tokens,omitempty"`
	Target    []Token `json:"target_tokens,omitempty"`
	// FirstDiff is the first position where the tokenizations differ (−1: none).
	FirstDiff int `json:"first_diff"`
}

func (e *InputError) Error() string { return e.Msg }

// Analysis is a checked request with both texts run.
type Analysis struct {
	Request
	CleanTokens, CorruptedTokens []Token
	CleanTargetID                int
	CorruptedTargetID            int
	CleanTop, CorruptedTop       []patch.Prob
	Session                      *patch.Session
}

// Check tokenizes and validates a request without running the model.
func Check(tok *bpe.Tokenizer, cfg gpt2.Config, req Request) (*Analysis, error) {
	return check(tok, cfg, req, false)
}

// check is Check; noised is a request whose corruption is noise on the
// clean text's embeddings, so its corrupted text is the clean one.
func check(tok *bpe.Tokenizer, cfg gpt2.Config, req Request, noised bool) (*Analysis, error) {
	a := &Analysis{Request: req}
	var err error
	if a.CleanTokens, err = CheckText(tok, cfg, "clean", req.Clean); err != nil {
		return nil, err
	}
	if a.CorruptedTokens, err = CheckText(tok, cfg, "corrupted", req.Corrupted); err != nil {
		return nil, err
	}
	if len(a.CleanTokens) != len(a.CorruptedTokens) {
		return nil, &InputError{
			Field: "corrupted", Reason: "count_mismatch", Clean: a.CleanTokens, Corrupted: a.CorruptedTokens, FirstDiff: firstDiff(a.CleanTokens, a.CorruptedTokens),
			Msg: fmt.Sprintf("the texts have different token counts (clean %d: %s; corrupted %d: %s): patching needs the same count, so change a word until both counts agree",
				len(a.CleanTokens), Join(a.CleanTokens), len(a.CorruptedTokens), Join(a.CorruptedTokens)),
		}
	}
	if !noised && firstDiff(a.CleanTokens, a.CorruptedTokens) < 0 {
		return nil, &InputError{Field: "corrupted", Reason: "same_texts", FirstDiff: -1,
			Msg: "the corrupted text has the same tokens as the clean text, so patching cannot change anything: change the word whose information you want to trace (the name, say)"}
	}
	if a.CleanTargetID, err = single(tok, "clean_target", req.CleanTarget); err != nil {
		return nil, err
	}
	if a.CorruptedTargetID, err = single(tok, "corrupted_target", req.CorruptedTarget); err != nil {
		return nil, err
	}
	if a.CleanTargetID == a.CorruptedTargetID {
		return nil, &InputError{Field: "corrupted_target", Reason: "same_targets", FirstDiff: -1,
			Msg: fmt.Sprintf("both targets are the token %q, so every logit difference is 0: the corrupted target is the answer the corrupted text suggests (\" Smith\" for \"Michelle Smith …\")", req.CleanTarget)}
	}
	return a, nil
}

// CheckText tokenizes one text (field names it in messages: clean,
// corrupted, or "" for a lone text) and checks that a run can take it: valid
// UTF-8, not empty or only whitespace, within the model's context.
func CheckText(tok *bpe.Tokenizer, cfg gpt2.Config, field, text string) ([]Token, error) {
	name := strings.TrimSpace("the " + field + " text")
	if field == "" {
		name = "the text"
	}
	fail := func(reason, format string, args ...any) ([]Token, error) {
		return nil, &InputError{Field: field, Reason: reason, FirstDiff: -1, Msg: name + " " + fmt.Sprintf(format, args...)}
	}
	switch {
	case text == "":
		return fail("empty", "is empty: type a sentence")
	case strings.TrimSpace(text) == "":
		return fail("whitespace", "is only whitespace (spaces, tabs, line breaks): type a sentence")
	case !utf8.ValidString(text):
		return fail("invalid_utf8", "is not valid UTF-8: save it as UTF-8 text")
	}
	toks := Tokenize(tok, text)
	if len(toks) > cfg.Context {
		return fail("too_long", "has %d tokens, more than the model's context of %d: shorten it", len(toks), cfg.Context)
	}
	return toks, nil
}

// single checks that a target is exactly one token.
func single(tok *bpe.Tokenizer, field, text string) (int, error) {
	toks := Tokenize(tok, text)
	name := strings.ReplaceAll(field, "_", " ")
	switch {
	case len(toks) == 0:
		return 0, &InputError{Field: field, Reason: "empty", FirstDiff: -1, Msg: fmt.Sprintf("the %s is empty: type one token, usually a word with its leading space such as \" Jones\"", name)}
	case len(toks) > 1:
		hint := ""
		if !strings.HasPrefix(text, " ") && len(Tokenize(tok, " "+text)) == 1 {
			hint = fmt.Sprintf(" (with a leading space, %q is one token)", " "+text)
		}
		return 0, &InputError{Field: field, Reason: "not_one_token", Target: toks, FirstDiff: -1,
			Msg: fmt.Sprintf("the %s %q is %d tokens (%s), not one: choose a word that is a single token%s", name, text, len(toks), Join(toks), hint)}
	}
	return toks[0].ID, nil
}

func firstDiff(a, b []Token) int {
	for i := range min(len(a), len(b)) {
		if a[i].ID != b[i].ID {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TopK is the number of tokens in the probability tables.
const TopK = 20

// New checks a request and runs both texts.
func New(m *gpt2.Model, tok *bpe.Tokenizer, req Request) (*Analysis, error) {
	return newAnalysis(m, tok, req, false)
}

// NewNoised checks a request whose corruption will be Gaussian noise on the
// clean text (its corrupted text is ignored: the clean text stands in for
// it until the noise is added) and runs the clean text twice.
func NewNoised(m *gpt2.Model, tok *bpe.Tokenizer, req Request) (*Analysis, error) {
	req.Corrupted = req.Clean
	return newAnalysis(m, tok, req, true)
}

func newAnalysis(m *gpt2.Model, tok *bpe.Tokenizer, req Request, noised bool) (*Analysis, error) {
	a, err := check(tok, m.Config, req, noised)
	if err != nil {
		return nil, err
	}
	a.Session, err = patch.NewSession(m, ids(a.CleanTokens), ids(a.CorruptedTokens), a.CleanTargetID, a.CorruptedTargetID)
	if err != nil {
		return nil, err
	}
	a.CleanTop = patch.Top(a.Session.CleanLogits, TopK)
	a.CorruptedTop = patch.Top(a.Session.CorruptedLogits, TopK)
	return a, nil
}

func ids(ts []Token) []int {
	out := make([]int, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// PositionLabels names the positions uniquely, even where a token repeats,
// index first, with the corrupted token beside the clean one where the
// texts differ: "0 Michelle", "1  Jones→Smith", … The CLI's figures and CSV
// files and the page's heatmap use these labels.
func PositionLabels(clean, corrupted []Token) []string {
	out := make([]string, len(clean))
	for i, t := range clean {
		text := t.Text
		if i < len(corrupted) && corrupted[i].ID != t.ID {
			text += "→" + strings.TrimLeft(corrupted[i].Text, " ")
		}
		out[i] = fmt.Sprintf("%d %s", i, text)
	}
	return out
}
