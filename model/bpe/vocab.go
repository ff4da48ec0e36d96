package bpe

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The GPT-2 vocabulary files, byte for byte as OpenAI published them.
var (
	//go:embed encoder.json
	encoderJSON string
	//go:embed vocab.bpe
	vocabBPE string
)

// byteToRune and runeToByte are GPT-2's bytes_to_unicode table. Every byte is
// shown as one printable rune so that the vocabulary files hold no spaces or
// control characters: the 188 bytes in '!'..'~', '¡'..'¬' and '®'..'ÿ' stand
// for themselves, and the other 68 (controls, space, DEL, NBSP, soft hyphen…)
// become U+0100, U+0101, … in increasing byte order, so ' ' is 'Ġ' (U+0120).
// Every rune of the table is below 256+68; runeToByte holds -1 for the rest.
var byteToRune, runeToByte = byteTables()

func byteTables() (b2r [256]rune, r2b [256 + 68]int16) {
	for i := range r2b {
		r2b[i] = -1
	}
	shifted := rune(0)
	for b := range 256 {
		if '!' <= b && b <= '~' || '¡' <= b && b <= '¬' || '®' <= b && b <= 'ÿ' {
			b2r[b] = rune(b)
		} else {
			b2r[b] = 256 + shifted
			shifted++
		}
		r2b[b2r[b]] = int16(b)
	}
	return b2r, r2b
}

// vocab is the parsed, immutable vocabulary. Tokens are kept as raw bytes and
// merges are keyed by token ids, so encoding never builds strings.
type vocab struct {
	tokens []string         // id -> the token's bytes
	byteID [256]int32       // byte -> id of the one-byte token
	merges map[uint64]merge // pairKey(left, right) -> what merging them gives
}

type merge struct {
	rank int32 // line number in vocab.bpe: lower merges first
	id   int32 // the token left+right
}

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// loadVocab parses the embedded files on first use, once for the process.
var loadVocab = sync.OnceValue(func() *vocab {
	v, err := parseVocab(encoderJSON, vocabBPE)
	if err != nil {
		panic("bpe: embedded vocabulary: " + err.Error())
	}
	return v
})

// parseVocab reads encoder.json (token -> id, a flat JSON object) and
// vocab.bpe (a version line, then one "left right" merge per line). Both files
// spell tokens through the bytes_to_unicode table.
func parseVocab(encoder, merges string) (*vocab, error) {
	v := &vocab{}
	var err error
	if v.tokens, err = parseEncoder(encoder); err != nil {
		return nil, fmt.Errorf("encoder.json: %w", err)
	}
	ids := make(map[string]int32, len(v.tokens))
	for id, tok := range v.tokens {
		ids[tok] = int32(id)
	}
	for b := range 256 {
		id, ok := ids[string([]byte{byte(b)})]
		if !ok {
			return nil, fmt.Errorf("encoder.json: no token for byte %#x", b)
		}
		v.byteID[b] = id
	}

	// Like minGPT: drop the version line and whatever follows the last '\n';
	// a merge's rank is its index among the remaining lines.
	lines := strings.Split(merges, "\n")
	if len(lines) < 2 {
		return nil, errors.New("vocab.bpe: no merges")
	}
	lines = lines[1 : len(lines)-1]
	v.merges = make(map[uint64]merge, len(lines))
	var buf []byte
	for rank, line := range lines {
		left, right, ok := strings.Cut(line, " ")
		if !ok || left == "" || right == "" || strings.Contains(right, " ") {
			return nil, fmt.Errorf("vocab.bpe: line %d: want two tokens, got %q", rank+2, line)
		}
		// buf = bytes(left) + bytes(right); the three look-ups below do not allocate.
		buf, err = appendTokenBytes(buf[:0], left)
		n := len(buf)
		if err == nil {
			buf, err = appendTokenBytes(buf, right)
		}
		if err != nil {
			return nil, fmt.Errorf("vocab.bpe: line %d (%q): %w", rank+2, line, err)
		}
		l, okL := ids[string(buf[:n])]
		r, okR := ids[string(buf[n:])]
		m, okM := ids[string(buf)]
		if !okL || !okR || !okM {
			return nil, fmt.Errorf("vocab.bpe: line %d (%q): token missing from encoder.json", rank+2, line)
		}
		v.merges[pairKey(l, r)] = merge{rank: int32(rank), id: m}
	}
	return v, nil
}

// appendTokenBytes appends the bytes that a bytes_to_unicode spelled token stands for.
func appendTokenBytes(dst []byte, tok string) ([]byte, error) {
	for _, r := range tok {
		b, ok := runeByte(r)
		if !ok {
			return dst, fmt.Errorf("rune %U is not in the byte table", r)
		}
		dst = append(dst, b)
	}
	return dst, nil
}

func runeByte(r rune) (byte, bool) {
	if r < 0 || int(r) >= len(runeToByte) || runeToByte[r] < 0 {
		return 0, false
	}
	return byte(runeToByte[r]), true
}

// parseEncoder reads a JSON object of string keys and integer values, the
// shape of encoder.json, and returns the keys' bytes indexed by value. It is
// hand-written because encoding/json needs several times longer for this file,
// which matters for start-up in the browser.
func parseEncoder(s string) ([]string, error) {
	p := scanner{s: s}
	type entry struct{ off, end, id int }
	var entries []entry
	blob := make([]byte, 0, len(s)/3)
	maxID := -1

	p.expect('{')
	for p.err == nil && p.peek() != '}' {
		if len(entries) > 0 {
			p.expect(',')
		}
		off := len(blob)
		blob = p.key(blob)
		p.expect(':')
		id := p.int()
		entries = append(entries, entry{off, len(blob), id})
		maxID = max(maxID, id)
	}
	p.expect('}')
	if p.err == nil && p.skipSpace() < len(s) {
		p.fail("trailing data")
	}
	if p.err != nil {
		return nil, p.err
	}
	if maxID+1 != len(entries) {
		return nil, fmt.Errorf("ids are not 0..%d", len(entries)-1)
	}

	all := string(blob)
	tokens := make([]string, len(entries))
	seen := make([]bool, len(entries))
	for _, e := range entries {
		if seen[e.id] {
			return nil, fmt.Errorf("id %d appears twice", e.id)
		}
		seen[e.id] = true
		tokens[e.id] = all[e.off:e.end]
	}
	return tokens, nil
}

// scanner is just enough of a JSON reader for encoder.json. After the first
// error every method is a no-op and p.err keeps that error.
type scanner struct {
	s   string
	i   int
	err error
}

func (p *scanner) fail(msg string) {
	if p.err == nil {
		p.err = fmt.Errorf("offset %d: %s", p.i, msg)
	}
}

func (p *scanner) skipSpace() int {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\r' || p.s[p.i] == '\t') {
		p.i++
	}
	return p.i
}

// peek returns the next non-space byte, or 0 at the end or after an error.
func (p *scanner) peek() byte {
	if p.err != nil || p.skipSpace() == len(p.s) {
		return 0
	}
	return p.s[p.i]
}

func (p *scanner) expect(c byte) {
	if p.peek() != c {
		p.fail(fmt.Sprintf("want %q", c))
		return
	}
	p.i++
}

// key reads a JSON string and appends the bytes its runes stand for.
func (p *scanner) key(dst []byte) []byte {
	p.expect('"')
	for p.err == nil {
		if p.i >= len(p.s) {
			p.fail("unterminated string")
			break
		}
		r, n := rune(p.s[p.i]), 1
		switch {
		case r == '"':
			p.i++
			return dst
		case r == '\\':
			r, n = p.escape()
		case r >= utf8.RuneSelf:
			r, n = utf8.DecodeRuneInString(p.s[p.i:])
		}
		b, ok := runeByte(r)
		if !ok {
			p.fail(fmt.Sprintf("rune %U is not in the byte table", r))
			break
		}
		dst = append(dst, b)
		p.i += n
	}
	return dst
}

// escape decodes the escape sequence at p.i; surrogates are left undecoded
// since no rune of the byte table needs them.
func (p *scanner) escape() (rune, int) {
	if p.i+1 >= len(p.s) {
		return utf8.RuneError, 1
	}
	switch c := p.s[p.i+1]; c {
	case '"', '\\', '/':
		return rune(c), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		if p.i+6 <= len(p.s) {
			if u, err := strconv.ParseUint(p.s[p.i+2:p.i+6], 16, 32); err == nil {
				return rune(u), 6
			}
		}
	}
	return utf8.RuneError, 1
}

func (p *scanner) int() int {
	p.skipSpace()
	start, n := p.i, 0
	for p.err == nil && p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' && p.i-start < 9 {
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
	}
	if p.i == start || p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.fail("want a small non-negative integer")
	}
	return n
}
