// Package bpe is GPT-2's byte-level BPE tokenizer, giving exactly the ids of
// OpenAI's encoder.py (and of minGPT's bpe.py, which is the same algorithm).
//
// The vocabulary (encoder.json and vocab.bpe, as published with GPT-2) is
// embedded in the binary in a compact form generated from those files
// (vocab.go), and decoded on first use, once per process: about 2 ms
// natively, 2 to 20 ms as WebAssembly in a browser.
//
// It is written by hand, on the standard library only: the pure-Go BPE
// libraries either pull in a regexp engine with look-ahead (regexp2) and
// download or bundle many vocabularies, or do not reproduce GPT-2's
// pre-tokenization exactly. The whole algorithm is a few hundred lines:
// pre-tokenize (pretokenize.go), map bytes to tokens and merge pairs by rank
// (merge.go), and decode the vocabulary (vocab.go).
package bpe

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer encodes text to GPT-2 token ids and back. It is safe for
// concurrent use. The zero value is ready to use; New returns a shared one.
type Tokenizer struct {
	mu    sync.Mutex
	cache map[string][]int32 // piece -> its ids; bounded, see cachePiece
}

// The cache keeps the ids of pieces of at most cacheKeyMax bytes, and is
// emptied when it reaches cacheEntries, so it never holds more than a few MB
// however much text goes through it.
const (
	cacheEntries = 1 << 15
	cacheKeyMax  = 32
)

var shared Tokenizer

// New returns the tokenizer for the embedded GPT-2 vocabulary. All callers
// share one instance (and its cache); the vocabulary is parsed on first use.
func New() *Tokenizer { return &shared }

// VocabSize returns the number of token ids, 50257 for GPT-2; valid ids are
// 0..VocabSize()-1, and the last one is <|endoftext|>.
func (t *Tokenizer) VocabSize() int { return loadVocab().size() }

// MaxTokenBytes returns the length in bytes of the longest token, 128 for
// GPT-2: a text of n bytes has at least n/MaxTokenBytes() tokens.
func (t *Tokenizer) MaxTokenBytes() int { return loadVocab().longest }

// Encode returns the token ids of text. Text that is not valid UTF-8 is
// encoded byte by byte like any other: the invalid bytes get the ids of
// their one-byte tokens (possibly merged), and DecodeBytes gives them back.
// Special tokens are not recognised: "<|endoftext|>" is encoded as plain text.
func (t *Tokenizer) Encode(text string) []int {
	v := loadVocab()
	ids := make([]int, 0, len(text)/4+1)
	var w []int32
	for text != "" {
		n := nextPiece(text)
		piece := text[:n]
		text = text[n:]
		if n == 1 {
			ids = append(ids, int(v.byteID[piece[0]]))
			continue
		}
		merged, ok := t.cached(piece)
		if !ok {
			w = slices.Grow(w[:0], len(piece))
			for i := 0; i < len(piece); i++ {
				w = append(w, v.byteID[piece[i]])
			}
			merged = v.merge(w)
			t.cachePiece(piece, merged)
		}
		for _, id := range merged {
			ids = append(ids, int(id))
		}
	}
	return ids
}

func (t *Tokenizer) cached(piece string) ([]int32, bool) {
	if len(piece) > cacheKeyMax {
		return nil, false
	}
	t.mu.Lock()
	ids, ok := t.cache[piece]
	t.mu.Unlock()
	return ids, ok
}

func (t *Tokenizer) cachePiece(piece string, ids []int32) {
	if len(piece) > cacheKeyMax {
		return
	}
	ids = slices.Clone(ids)
	piece = strings.Clone(piece) // do not pin the caller's text
	t.mu.Lock()
	if t.cache == nil || len(t.cache) >= cacheEntries {
		t.cache = make(map[string][]int32)
	}
	t.cache[piece] = ids
	t.mu.Unlock()
}

// Decode returns the text of ids. As in encoder.py, the tokens' bytes are
// joined and then decoded as UTF-8 with Python's errors="replace": each
// maximal ill-formed byte sequence becomes one U+FFFD. An id outside
// 0..VocabSize()-1 also becomes U+FFFD; Decode never panics.
func (t *Tokenizer) Decode(ids []int) string {
	return toValidUTF8(t.DecodeBytes(ids))
}

// DecodeToken returns Decode([]int{id}). A token holding only part of a UTF-8
// character decodes to U+FFFD.
func (t *Tokenizer) DecodeToken(id int) string {
	return t.Decode([]int{id})
}

// DecodeBytes returns the bytes of ids joined, with no UTF-8 repair, so that
// DecodeBytes(Encode(s)) == s for any s, valid UTF-8 or not. An id outside
// 0..VocabSize()-1 gives the three bytes of U+FFFD.
func (t *Tokenizer) DecodeBytes(ids []int) []byte {
	v := loadVocab()
	n := 0
	for _, id := range ids {
		if 0 <= id && id < v.size() {
			n += int(v.sizes[id])
		} else {
			n += utf8.RuneLen(utf8.RuneError)
		}
	}
	buf := make([]byte, 0, n)
	for _, id := range ids {
		if 0 <= id && id < v.size() {
			buf = v.appendToken(buf, id)
		} else {
			buf = utf8.AppendRune(buf, utf8.RuneError)
		}
	}
	return buf
}

// Token returns the vocabulary's own spelling of token id, as a key of
// encoder.json: each byte is shown through GPT-2's bytes_to_unicode table
// (so " the" is "Ġthe"). ok is false if id is out of range.
func (t *Tokenizer) Token(id int) (tok string, ok bool) {
	v := loadVocab()
	if id < 0 || id >= v.size() {
		return "", false
	}
	var b strings.Builder
	for _, c := range v.appendToken(nil, id) {
		b.WriteRune(byteToRune[c])
	}
	return b.String(), true
}

// toValidUTF8 converts b to a string the way Python's
// b.decode("utf-8", errors="replace") does: each maximal prefix of a valid
// UTF-8 sequence that is cut short, or else each single bad byte, becomes one
// U+FFFD. (strings.ToValidUTF8 instead merges whole runs of bad bytes, and
// ranging over a string gives one U+FFFD per bad byte; neither matches.)
func toValidUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b) + 8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			n = badSequenceLen(b)
		}
		out.WriteRune(r) // r is utf8.RuneError for a bad sequence
		b = b[n:]
	}
	return out.String()
}

// badSequenceLen returns the length of the maximal ill-formed subsequence
// at the start of b, which is known not to start a valid UTF-8 character:
// a lead byte followed by the continuation bytes it could legally take (the
// second byte's range depends on the lead byte, per Unicode Table 3-7).
func badSequenceLen(b []byte) int {
	size, lo, hi := 0, byte(0x80), byte(0xBF)
	switch c := b[0]; {
	case 0xC2 <= c && c <= 0xDF:
		size = 2
	case c == 0xE0:
		size, lo = 3, 0xA0
	case c == 0xED:
		size, hi = 3, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		size = 3
	case c == 0xF0:
		size, lo = 4, 0x90
	case c == 0xF4:
		size, hi = 4, 0x8F
	case 0xF1 <= c && c <= 0xF3:
		size = 4
	default:
		return 1
	}
	n := 1
	for n < size && n < len(b) && lo <= b[n] && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}
