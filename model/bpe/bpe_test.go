package bpe

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// goldenPath is shared/fixtures/tokenizer/golden.json, which lies beside the
// main work tree: from this package, three levels up.
var goldenPath = filepath.Join("..", "..", "..", "shared", "fixtures", "tokenizer", "golden.json")

type goldenCase struct {
	Text    string   `json:"text"`
	IDs     []int    `json:"ids"`
	Tokens  []string `json:"tokens"`
	Decoded string   `json:"decoded"`
}

func loadGolden(tb testing.TB) []goldenCase {
	tb.Helper()
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		wd, _ := os.Getwd()
		tb.Fatalf("golden fixtures missing: %v (looked for %s from %s; shared/ must sit beside the work tree)", err, goldenPath, wd)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatalf("%s: %v", goldenPath, err)
	}
	if len(g.Cases) == 0 {
		tb.Fatalf("%s: no cases", goldenPath)
	}
	return g.Cases
}

func TestGolden(t *testing.T) {
	tok := New()
	for _, c := range loadGolden(t) {
		got := tok.Encode(c.Text)
		if !reflect.DeepEqual(got, c.IDs) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
			continue
		}
		if len(c.Tokens) != len(c.IDs) {
			t.Fatalf("%q: golden has %d tokens for %d ids", c.Text, len(c.Tokens), len(c.IDs))
		}
		for i, id := range c.IDs {
			if s := tok.DecodeToken(id); s != c.Tokens[i] {
				t.Errorf("%q: DecodeToken(%d) = %q, want %q", c.Text, id, s, c.Tokens[i])
			}
		}
		if s := tok.Decode(c.IDs); s != c.Decoded {
			t.Errorf("Decode(%v) = %q, want %q", c.IDs, s, c.Decoded)
		}
	}
}

// TestTextMatchesFixtures guards against the copies of encoder.json and
// vocab.bpe in this package (vocab.bin's source) drifting from shared/fixtures.
func TestTextMatchesFixtures(t *testing.T) {
	dir := filepath.Dir(goldenPath)
	for _, name := range []string{"encoder.json", "vocab.bpe"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("fixture missing: %v", err)
		}
		if string(data) != readFile(t, name) {
			t.Errorf("%s differs from %s", name, filepath.Join(dir, name))
		}
	}
}

func TestVocab(t *testing.T) {
	tok := New()
	if n := tok.VocabSize(); n != 50257 {
		t.Fatalf("VocabSize = %d, want 50257", n)
	}
	if n := len(loadVocab().pairs); n != 50000 {
		t.Errorf("%d merges, want 50000", n)
	}
	for id, want := range map[int]string{0: "!", 220: "Ġ", 262: "Ġthe", 50256: "<|endoftext|>"} {
		if got, ok := tok.Token(id); !ok || got != want {
			t.Errorf("Token(%d) = %q, %v; want %q", id, got, ok, want)
		}
	}
	for _, id := range []int{-1, 50257, 1 << 40} {
		if got, ok := tok.Token(id); ok || got != "" {
			t.Errorf("Token(%d) = %q, %v; want \"\", false", id, got, ok)
		}
	}
	// Every token's spelling through the byte table is its encoder.json key.
	var keys map[string]int
	if err := json.Unmarshal([]byte(readFile(t, "encoder.json")), &keys); err != nil {
		t.Fatal(err)
	}
	for key, id := range keys {
		if got, _ := tok.Token(id); got != key {
			t.Fatalf("Token(%d) = %q, want %q", id, got, key)
		}
	}
}

func TestByteTable(t *testing.T) {
	seen := map[rune]bool{}
	for b, r := range byteToRune {
		if seen[r] || runeToByte[r] != int16(b) {
			t.Fatalf("byte %#x <-> rune %U is not a bijection", b, r)
		}
		seen[r] = true
	}
	if byteToRune[' '] != 'Ġ' || byteToRune[0] != 'Ā' || byteToRune['a'] != 'a' || byteToRune[0xAD] != 'Ń' {
		t.Errorf("byte table differs from GPT-2's bytes_to_unicode")
	}
}

// Pieces as Python's regex.findall splits them with GPT-2's pattern.
func TestPretokenize(t *testing.T) {
	for text, want := range map[string][]string{
		"Hello  world":       {"Hello", " ", " world"},
		"   leading":         {"  ", " leading"},
		"trailing   ":        {"trailing", "   "},
		"a \t b":             {"a", " \t", " b"},
		"a\t\tb":             {"a", "\t", "\t", "b"},
		"a\n\nb":             {"a", "\n", "\n", "b"},
		"a\nb":               {"a", "\n", "b"},
		" \n":                {" \n"},
		"x  !":               {"x", " ", " !"},
		"It's IT'S":          {"It", "'s", " IT", "'", "S"},
		"we'll 'll '":        {"we", "'ll", " '", "ll", " '"},
		"o'reilly":           {"o", "'re", "illy"},
		"!'s":                {"!'", "s"},
		"abc123def":          {"abc", "123", "def"},
		" 123 ½ ⅷ":           {" 123", " ½", " ⅷ"},
		"日本語のテキスト":           {"日本語のテキスト"},
		"\u00a0non":          {"\u00a0", "non"},
		" \u00a0x":           {" ", "\u00a0", "x"},
		"a\u3000\u3000b":     {"a", "\u3000", "\u3000", "b"},
		"tab\t":              {"tab", "\t"},
		"🤖🎉 and":             {"🤖🎉", " and"},
		"a\x00\x01b":         {"a", "\x00\x01", "b"},
		"x\xffy\xe2\x82 z":   {"x", "\xff", "y", "\xe2\x82", " z"},
		"\r\n\r\nEnd":        {"\r\n\r", "\n", "End"},
		"  \t  mixed   \n w": {"  \t ", " mixed", "   \n", " w"},
	} {
		var got []string
		for s := text; s != ""; {
			n := nextPiece(s)
			got = append(got, s[:n])
			s = s[n:]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pieces of %q\n got %q\nwant %q", text, got, want)
		}
	}
}

// Decode follows Python's bytes.decode("utf-8", errors="replace").
func TestDecodeInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"\xe2\x82":         "\ufffd",
		"\xe2\x82A":        "\ufffdA",
		"\xff\xfe":         "\ufffd\ufffd",
		"\xf0\x9f\x98":     "\ufffd",
		"\xf0\x9f\x98\xf0": "\ufffd\ufffd",
		"\xed\xa0\x80":     "\ufffd\ufffd\ufffd", // surrogate
		"\xe0\x80\x80":     "\ufffd\ufffd\ufffd", // overlong
		"\xc0\xaf":         "\ufffd\ufffd",
		"\xf4\x90\x80\x80": "\ufffd\ufffd\ufffd\ufffd", // above U+10FFFF
		"\xf4\x8f\xbf":     "\ufffd",
		"a\x80b\xbf":       "a\ufffdb\ufffd",
		"ok \ufffd":        "ok \ufffd",
	} {
		tok := New()
		ids := tok.Encode(in)
		if got := string(tok.DecodeBytes(ids)); got != in {
			t.Errorf("DecodeBytes(Encode(%q)) = %q", in, got)
		}
		if got := tok.Decode(ids); got != want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeOutOfRange(t *testing.T) {
	tok := New()
	hello := tok.Encode("hi")
	ids := append(append([]int{-1}, hello...), 50257, 1<<62)
	if got, want := tok.Decode(ids), "\ufffdhi\ufffd\ufffd"; got != want {
		t.Errorf("Decode(%v) = %q, want %q", ids, got, want)
	}
	if got := tok.DecodeToken(-5); got != "\ufffd" {
		t.Errorf("DecodeToken(-5) = %q", got)
	}
	if got := tok.Decode(nil); got != "" {
		t.Errorf("Decode(nil) = %q", got)
	}
	if got := tok.Encode(""); len(got) != 0 {
		t.Errorf("Encode(\"\") = %v", got)
	}
}

// randomText mixes the classes of runes the pre-tokenizer tells apart.
func randomText(r *rand.Rand, n int) string {
	parts := []string{
		"the", " the", "The", " quick", "brown", "fox", "IT", "'s", "'S", "'t", "'re", "'ll", "'d", "'m", "'ve", "'",
		" ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2028",
		"0", "42", " 1999", "½", "٣", ".", ",", "!", "?!", "...", "$", "<|endoftext|>", "@", "#", "-", "—", "“", "”",
		"café", "naïve", "Привет", "мир", "日本語", "한국어", "🤖", "🎉", "❤️", "👩‍👩‍👧", "e\u0301", "\x00", "\x1b[0m", "\x7f",
	}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// TestMergeLong checks the heap merge against the plain loop on pieces of
// every length, including ones no cache would hold.
func TestMergeLong(t *testing.T) {
	v := loadVocab()
	r := rand.New(rand.NewPCG(1, 2))
	var pieces []string
	for range 2000 {
		pieces = append(pieces, randomText(r, r.IntN(200)))
	}
	pieces = append(pieces, strings.Repeat("a", 301), strings.Repeat("ab", 150), strings.Repeat(" ", 99), strings.Repeat("€", 70))
	for _, p := range pieces {
		var w []int32
		for i := range len(p) {
			w = append(w, v.byteID[p[i]])
		}
		want := plainMerge(v, slices.Clone(w))
		if got := v.merge(slices.Clone(w)); !slices.Equal(got, want) {
			t.Fatalf("piece %q: merge gave %v, want %v", p, got, want)
		}
		if len(w) > 0 {
			if got := v.mergeLong(slices.Clone(w)); !slices.Equal(got, want) {
				t.Fatalf("piece %q: mergeLong gave %v, want %v", p, got, want)
			}
		}
	}
}

// plainMerge is the merge loop of encoder.py, for any length.
func plainMerge(v *vocab, w []int32) []int32 {
	for len(w) > 1 {
		var best merge
		found := false
		for i := 0; i+1 < len(w); i++ {
			if m, ok := v.pair(w[i], w[i+1]); ok && (!found || m.rank < best.rank) {
				best, found = m, true
			}
		}
		if !found {
			break
		}
		var left, right int32
		for i := 0; i+1 < len(w); i++ {
			if m, _ := v.pair(w[i], w[i+1]); m == best {
				left, right = w[i], w[i+1]
				break
			}
		}
		out := w[:0]
		for i := 0; i < len(w); i++ {
			if i+1 < len(w) && w[i] == left && w[i+1] == right {
				out = append(out, best.id)
				i++
			} else {
				out = append(out, w[i])
			}
		}
		w = out
	}
	return w
}

func TestRoundTripRandom(t *testing.T) {
	tok := New()
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		s := randomText(r, r.IntN(300))
		if got := tok.Decode(tok.Encode(s)); got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	}
}

// TestLargeInput encodes a megabyte of mixed text, a megabyte with no space
// and a megabyte of spaces, and checks each round-trips.
func TestLargeInput(t *testing.T) {
	tok := New()
	r := rand.New(rand.NewPCG(5, 6))
	var junk strings.Builder
	for junk.Len() < 1<<20 {
		junk.WriteByte(byte(r.IntN(256)))
	}
	for name, s := range map[string]string{
		"mixed":    randomText(r, 1<<20),
		"no space": strings.Repeat("abcdefghij", 1<<17),
		"spaces":   strings.Repeat(" ", 1<<20),
		"bytes":    junk.String(),
	} {
		ids := tok.Encode(s)
		if got := string(tok.DecodeBytes(ids)); got != s {
			t.Errorf("%s: DecodeBytes(Encode(s)) != s", name)
		}
		if utf8.ValidString(s) && tok.Decode(ids) != s {
			t.Errorf("%s: Decode(Encode(s)) != s", name)
		}
		t.Logf("%s: %d bytes -> %d tokens", name, len(s), len(ids))
	}
}

func TestConcurrent(t *testing.T) {
	tok := New()
	r := rand.New(rand.NewPCG(7, 8))
	texts := make([]string, 64)
	want := make([][]int, len(texts))
	for i := range texts {
		texts[i] = randomText(r, 2000)
		want[i] = (&Tokenizer{}).Encode(texts[i])
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range texts {
				i := (i + g) % len(texts)
				if got := tok.Encode(texts[i]); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("concurrent Encode differs")
				}
			}
		})
	}
	wg.Wait()
}

func TestCacheBounded(t *testing.T) {
	tok := &Tokenizer{}
	var b strings.Builder
	for i := range 3 * cacheEntries {
		b.WriteString(" w")
		for n := i; n > 0; n /= 26 {
			b.WriteByte(byte('a' + n%26))
		}
	}
	tok.Encode(b.String())
	if n := len(tok.cache); n > cacheEntries {
		t.Errorf("cache holds %d entries, limit %d", n, cacheEntries)
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, c := range loadGolden(f) {
		f.Add(c.Text)
	}
	f.Add("a\x00b\xff")
	f.Add(strings.Repeat("ab", 100))
	tok := New()
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		if got := string(tok.DecodeBytes(ids)); got != s {
			t.Fatalf("DecodeBytes(Encode(%q)) = %q", s, got)
		}
		if utf8.ValidString(s) {
			if got := tok.Decode(ids); got != s {
				t.Fatalf("Decode(Encode(%q)) = %q", s, got)
			}
		}
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode(%q) gave id %d", s, id)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	tok := New()
	text := randomText(rand.New(rand.NewPCG(9, 10)), 1<<20)
	tok.Encode(text) // load the vocabulary and warm the cache
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}

// BenchmarkEncodeCold encodes with an empty cache each time.
func BenchmarkEncodeCold(b *testing.B) {
	text := randomText(rand.New(rand.NewPCG(9, 10)), 1<<20)
	loadVocab()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		(&Tokenizer{}).Encode(text)
	}
}

func BenchmarkEncodeNoSpace(b *testing.B) {
	tok := New()
	text := strings.Repeat("abcdefghij", 1<<17)
	loadVocab()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}

// BenchmarkLoadVocab is the first-use cost: decoding the embedded vocabulary.
// With -benchtime 1x in a fresh process it is the first use itself.
func BenchmarkLoadVocab(b *testing.B) {
	for b.Loop() {
		if _, err := decodeVocab(vocabFile); err != nil {
			b.Fatal(err)
		}
	}
}
