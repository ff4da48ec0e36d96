package bpe

import (
	"unicode"
	"unicode/utf8"
)

// nextPiece returns the byte length of the first pre-token of s (s must not
// be empty). Pre-tokens are what GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// finds, tried left to right as Python's regex module does. Go's regexp has no
// look-ahead, so the pattern is spelled out by hand:
//
//   - an apostrophe followed by s, t, re, ve, m, ll or d (lower case only:
//     "IT'S" gives "IT", "'", "S") is a piece;
//   - otherwise a run of letters, of numbers, or of other non-space runes,
//     taking along one ASCII space just before it;
//   - otherwise a run of whitespace; see the comment at the end.
//
// \s, \p{L} and \p{N} come from Go's unicode tables (unicode.IsSpace is exactly
// the White_Space property that the regex module uses for \s). Those are
// Unicode 15.0: a letter or digit assigned since counts as "other" here, which
// changes only where text using it is split into pieces. A byte that is
// not valid UTF-8 counts as an "other" rune, so every byte lands in some piece.
func nextPiece(s string) int {
	r, n := decodeRune(s)
	if r == '\'' {
		if k := contraction(s[n:]); k > 0 {
			return n + k
		}
	}
	c := class(r)
	start := n
	if r == ' ' && n < len(s) {
		// " ?\p{L}+" and friends: a space joins the run that follows it.
		r2, n2 := decodeRune(s[n:])
		if c2 := class(r2); c2 != space {
			c, start = c2, n+n2
		}
	}
	if c != space {
		for start < len(s) {
			r, n := decodeRune(s[start:])
			if class(r) != c {
				break
			}
			start += n
		}
		return start
	}

	end, last := n, n // the whitespace run is s[:end]; its last rune has last bytes
	for end < len(s) {
		r, n := decodeRune(s[end:])
		if class(r) != space {
			break
		}
		end, last = end+n, n
	}
	// \s+(?!\S): a run that reaches the end of s is one piece. A run followed by
	// a non-space backtracks by one rune, leaving its last whitespace rune to
	// start the next piece (where, if it is ' ', it joins the following word).
	// A run of just one rune cannot give anything up and is taken whole by \s+.
	if end < len(s) && end > last {
		return end - last
	}
	return end
}

// contraction returns the length of the contraction suffix ("s", "re", …) at
// the start of s, or 0.
func contraction(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v', 'l':
		if len(s) >= 2 && (s[:2] == "re" || s[:2] == "ve" || s[:2] == "ll") {
			return 2
		}
	}
	return 0
}

// Character classes of the pattern.
const (
	other = iota
	letter
	number
	space
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for r := range rune(utf8.RuneSelf) {
		t[r] = slowClass(r)
	}
	return t
}()

func class(r rune) uint8 {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	return slowClass(r)
}

func slowClass(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return letter
	case unicode.IsNumber(r):
		return number
	case unicode.IsSpace(r):
		return space
	}
	return other
}

// decodeRune is utf8.DecodeRuneInString with a fast path for ASCII.
func decodeRune(s string) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}
