package bpe

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// This file writes vocab.bin (go generate runs TestVocabFile with
// -write-vocab) and checks the decoded vocabulary against encoder.json and
// vocab.bpe read the plain way, as OpenAI's encoder.py reads them.

var writeVocab = flag.Bool("write-vocab", false, "write vocab.bin from encoder.json and vocab.bpe")

// textVocab is encoder.json and vocab.bpe as encoder.py reads them. Tokens
// are spelled through the byte table, as in the files.
type textVocab struct {
	encoder map[string]int // token -> id
	merges  [][2]string    // rank -> the two tokens it joins
}

func readTextVocab(tb testing.TB) textVocab {
	tb.Helper()
	var tv textVocab
	if err := json.Unmarshal([]byte(readFile(tb, "encoder.json")), &tv.encoder); err != nil {
		tb.Fatalf("encoder.json: %v", err)
	}
	// encoder.py: bpe_data.split('\n')[1:-1], each line split on whitespace.
	lines := strings.Split(readFile(tb, "vocab.bpe"), "\n")
	for i, line := range lines[1 : len(lines)-1] {
		f := strings.Fields(line)
		if len(f) != 2 {
			tb.Fatalf("vocab.bpe: line %d: %q is not two tokens", i+2, line)
		}
		tv.merges = append(tv.merges, [2]string{f[0], f[1]})
	}
	return tv
}

func readFile(tb testing.TB, name string) string {
	tb.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

// spelledBytes returns the bytes that a token spelled through the byte table
// stands for.
func spelledBytes(tok string) (string, error) {
	var b []byte
	for _, r := range tok {
		if r < 0 || int(r) >= len(runeToByte) || runeToByte[r] < 0 {
			return "", fmt.Errorf("rune %U of %q is not in the byte table", r, tok)
		}
		b = append(b, byte(runeToByte[r]))
	}
	return string(b), nil
}

// compileVocab returns tv in the form of vocabFile, or why it does not have
// that form's shape.
func compileVocab(tv textVocab) ([]byte, error) {
	byID := make([]string, len(tv.encoder))
	if len(byID) >= 1<<16 {
		return nil, errors.New("encoder.json: too many tokens for 16-bit ids")
	}
	for tok, id := range tv.encoder {
		b, err := spelledBytes(tok)
		if err != nil || b == "" {
			return nil, fmt.Errorf("encoder.json: token %q: %v", tok, err)
		}
		if id < 0 || id >= len(byID) || byID[id] != "" {
			return nil, fmt.Errorf("encoder.json: the ids are not 0..%d, each once", len(byID)-1)
		}
		byID[id] = b
	}
	special := byID[min(firstMerged+len(tv.merges), len(byID)):]
	f := []byte(vocabMagic)
	f = binary.LittleEndian.AppendUint32(f, uint32(len(tv.merges)))
	f = binary.LittleEndian.AppendUint32(f, uint32(len(special)))
	for id := range firstMerged {
		if id >= len(byID) || len(byID[id]) != 1 {
			return nil, fmt.Errorf("encoder.json: token %d is not one byte", id)
		}
		f = append(f, byID[id][0])
	}
	for r, m := range tv.merges {
		left, okL := tv.encoder[m[0]]
		right, okR := tv.encoder[m[1]]
		id := firstMerged + r
		if !okL || !okR || id >= len(byID) || byID[id] != byID[left]+byID[right] {
			return nil, fmt.Errorf("vocab.bpe: line %d (%s %s) does not make token %d", r+2, m[0], m[1], id)
		}
		f = binary.LittleEndian.AppendUint16(f, uint16(left))
		f = binary.LittleEndian.AppendUint16(f, uint16(right))
	}
	for _, tok := range special {
		if len(tok) > maxToken {
			return nil, fmt.Errorf("encoder.json: special token %q is longer than %d bytes", tok, maxToken)
		}
		f = append(f, byte(len(tok)))
		f = append(f, tok...)
	}
	if _, err := decodeVocab(string(f)); err != nil {
		return nil, err
	}
	return f, nil
}

// TestVocabFile checks that vocab.bin is what encoder.json and vocab.bpe give,
// or with -write-vocab writes it.
func TestVocabFile(t *testing.T) {
	f, err := compileVocab(readTextVocab(t))
	if err != nil {
		t.Fatal(err)
	}
	if *writeVocab {
		if err := os.WriteFile("vocab.bin", f, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(f) != vocabFile {
		t.Fatal("vocab.bin is not what encoder.json and vocab.bpe give: run go generate ./model/bpe")
	}
}

// TestDecodedMatchesText compares the decoded vocabulary with the text files
// read the plain way: every token, every merge, pairs that are no merge, and
// the ids of texts encoded by encoder.py's algorithm on spelled tokens.
func TestDecodedMatchesText(t *testing.T) {
	tv := readTextVocab(t)
	v := loadVocab()
	if v.size() != len(tv.encoder) || len(v.pairs) != len(tv.merges) {
		t.Fatalf("%d tokens and %d merges, want %d and %d", v.size(), len(v.pairs), len(tv.encoder), len(tv.merges))
	}
	longest := 0
	for tok, id := range tv.encoder {
		b, err := spelledBytes(tok)
		if err != nil || tokenOf(v, id) != b || int(v.sizes[id]) != len(b) {
			t.Fatalf("token %d is %q (%d bytes), want %q (%v)", id, tokenOf(v, id), v.sizes[id], b, err)
		}
		longest = max(longest, len(b))
	}
	if got := New().MaxTokenBytes(); got != longest {
		t.Errorf("MaxTokenBytes = %d, want %d", got, longest)
	}
	for b, r := range byteToRune {
		if id := int(v.byteID[b]); id != tv.encoder[string(r)] {
			t.Fatalf("byte %#x has id %d, want %d", b, id, tv.encoder[string(r)])
		}
	}

	ranks := make(map[[2]int32]int, len(tv.merges))
	for r, m := range tv.merges {
		left, right := int32(tv.encoder[m[0]]), int32(tv.encoder[m[1]])
		ranks[[2]int32{left, right}] = r
		want := merge{rank: int32(r), id: int32(tv.encoder[m[0]+m[1]])}
		if got, ok := v.pair(left, right); !ok || got != want {
			t.Fatalf("pair %q %q gives %v, %v; want %v", m[0], m[1], got, ok, want)
		}
	}
	isMerge := func(left, right int32) {
		_, want := ranks[[2]int32{left, right}]
		if _, got := v.pair(left, right); got != want {
			t.Fatalf("pair %d %d: merge %v, want %v", left, right, got, want)
		}
	}
	for left := range int32(firstMerged) {
		for right := range int32(firstMerged) {
			isMerge(left, right)
		}
	}
	for p := range ranks {
		isMerge(p[1], p[0])
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for range 200000 {
		isMerge(rng.Int32N(int32(v.size())), rng.Int32N(int32(v.size())))
	}

	var texts []string
	for _, c := range loadGolden(t) {
		texts = append(texts, c.Text)
	}
	for range 300 {
		texts = append(texts, randomText(rng, rng.IntN(400)))
	}
	texts = append(texts, strings.Repeat("a", 301), strings.Repeat("ab", 150), strings.Repeat(" ", 99), strings.Repeat("€", 70))
	strRanks := make(map[[2]string]int, len(tv.merges))
	for r, m := range tv.merges {
		strRanks[m] = r
	}
	tok := &Tokenizer{}
	for _, s := range texts {
		if got, want := tok.Encode(s), tv.encode(s, strRanks); !slices.Equal(got, want) {
			t.Fatalf("Encode(%q)\n got %v\nwant %v (encoder.py's algorithm)", s, got, want)
		}
	}
}

// encode is encoder.py's encode on the pieces nextPiece finds: a piece's
// bytes spelled through the byte table, then, while some pair of adjacent
// tokens is a merge, the pair of lowest rank joined everywhere, left to right.
func (tv textVocab) encode(text string, ranks map[[2]string]int) []int {
	var ids []int
	for text != "" {
		n := nextPiece(text)
		var word []string
		for i := range n {
			word = append(word, string(byteToRune[text[i]]))
		}
		text = text[n:]
		for len(word) > 1 {
			best, found := [2]string{}, false
			for i := 0; i+1 < len(word); i++ {
				p := [2]string{word[i], word[i+1]}
				if r, ok := ranks[p]; ok && (!found || r < ranks[best]) {
					best, found = p, true
				}
			}
			if !found {
				break
			}
			var joined []string
			for i := 0; i < len(word); i++ {
				if i+1 < len(word) && word[i] == best[0] && word[i+1] == best[1] {
					joined = append(joined, best[0]+best[1])
					i++
				} else {
					joined = append(joined, word[i])
				}
			}
			word = joined
		}
		for _, tok := range word {
			ids = append(ids, tv.encoder[tok])
		}
	}
	return ids
}

// smallText is a vocabulary of the 256 bytes, "ab", "abc" and one special token.
func smallText() textVocab {
	tv := textVocab{encoder: map[string]int{"ab": 256, "abc": 257, "<|x|>": 258}, merges: [][2]string{{"a", "b"}, {"ab", "c"}}}
	for b, r := range byteToRune {
		tv.encoder[string(r)] = b
	}
	return tv
}

func TestDecodeSmall(t *testing.T) {
	f, err := compileVocab(smallText())
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeVocab(string(f))
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := v.byteID['a'], v.byteID['b'], v.byteID['c']
	if v.size() != 259 || tokenOf(v, 256) != "ab" || tokenOf(v, 257) != "abc" || tokenOf(v, 258) != "<|x|>" || tokenOf(v, int(a)) != "a" {
		t.Errorf("tokens: %q %q %q", tokenOf(v, 256), tokenOf(v, 257), tokenOf(v, 258))
	}
	for _, p := range []struct {
		left, right int32
		want        merge
		ok          bool
	}{{a, b, merge{0, 256}, true}, {256, c, merge{1, 257}, true}, {b, a, merge{}, false}, {a, 256, merge{}, false}} {
		if got, ok := v.pair(p.left, p.right); got != p.want || ok != p.ok {
			t.Errorf("pair(%d, %d) = %v, %v; want %v, %v", p.left, p.right, got, ok, p.want, p.ok)
		}
	}
}

// TestLongestSpecial: a special token may have maxToken bytes.
func TestLongestSpecial(t *testing.T) {
	tv := smallText()
	long := strings.Repeat("x", maxToken)
	delete(tv.encoder, "<|x|>")
	tv.encoder[long] = 258
	f, err := compileVocab(tv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeVocab(string(f))
	if err != nil || tokenOf(v, 258) != long || v.longest != maxToken {
		t.Errorf("decodeVocab: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := compileVocab(smallText())
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(good) {
		if _, err := decodeVocab(string(good[:n])); err == nil {
			t.Errorf("decodeVocab accepted the file cut to %d of %d bytes", n, len(good))
		}
	}
	const merges = 12 + 256 // offset of merge 0
	for name, edit := range map[string]func(f []byte){
		"trailing byte":       nil,
		"magic":               func(f []byte) { f[0] = 'x' },
		"too many merges":     func(f []byte) { binary.LittleEndian.PutUint32(f[4:], 70000) },
		"a byte twice":        func(f []byte) { f[12+1] = f[12] },
		"a token not made":    func(f []byte) { binary.LittleEndian.PutUint16(f[merges:], 256) },
		"a merge twice":       func(f []byte) { copy(f[merges+4:merges+8], f[merges:merges+4]) },
		"special token short": func(f []byte) { f[len(f)-6]++ },
	} {
		f := slices.Clone(good)
		if edit == nil {
			f = append(f, 0)
		} else {
			edit(f)
		}
		if _, err := decodeVocab(string(f)); err == nil {
			t.Errorf("%s: decodeVocab accepted it", name)
		}
	}

	// Each merge doubles the last token: the eighth makes 256 bytes.
	doublings := func(merges int) string {
		f := []byte(vocabMagic)
		f = binary.LittleEndian.AppendUint32(f, uint32(merges))
		f = binary.LittleEndian.AppendUint32(f, 0)
		for b := range 256 {
			f = append(f, byte(b))
		}
		last := uint16('a')
		for r := range merges {
			f = binary.LittleEndian.AppendUint16(f, last)
			f = binary.LittleEndian.AppendUint16(f, last)
			last = uint16(256 + r)
		}
		return string(f)
	}
	if v, err := decodeVocab(doublings(7)); err != nil || tokenOf(v, 262) != strings.Repeat("a", 128) {
		t.Errorf("seven doublings: %v", err)
	}
	if _, err := decodeVocab(doublings(8)); err == nil {
		t.Errorf("decodeVocab accepted a token of 256 bytes")
	}
}

func TestCompileErrors(t *testing.T) {
	for name, edit := range map[string]func(tv *textVocab){
		"ids not dense":       func(tv *textVocab) { tv.encoder["abc"] = 300 },
		"an id twice":         func(tv *textVocab) { tv.encoder["abc"] = 256 },
		"rune not in table":   func(tv *textVocab) { tv.encoder["\u0800"] = 259 },
		"merge makes another": func(tv *textVocab) { tv.merges[1] = [2]string{"a", "c"} },
		"unknown token":       func(tv *textVocab) { tv.merges[1] = [2]string{"ab", "q\u0800"} },
		"not a byte first":    func(tv *textVocab) { tv.encoder["a"], tv.encoder["ab"] = 256, int(byteToRune['a']) },
		"a merge too many":    func(tv *textVocab) { tv.merges = append(tv.merges, [2]string{"abc", "a"}) },
	} {
		tv := smallText()
		tv.merges = slices.Clone(tv.merges)
		edit(&tv)
		if _, err := compileVocab(tv); err == nil {
			t.Errorf("%s: compileVocab accepted it", name)
		}
	}
}

// FuzzDecodeVocab: a damaged file gives an error, never a panic, and a file
// that decodes is consistent.
func FuzzDecodeVocab(f *testing.F) {
	good, err := compileVocab(smallText())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, file []byte) {
		v, err := decodeVocab(string(file))
		if err != nil {
			return
		}
		longest := 0
		for id := range v.size() {
			size := len(tokenOf(v, id))
			if size != int(v.sizes[id]) {
				t.Fatalf("token %d: %d bytes, sizes says %d", id, size, v.sizes[id])
			}
			longest = max(longest, size)
		}
		if longest != v.longest {
			t.Fatalf("longest token %d bytes, v.longest %d", longest, v.longest)
		}
		for r, p := range v.pairs {
			left, right := int32(p>>16), int32(p&0xFFFF)
			if m, ok := v.pair(left, right); !ok || m.rank != int32(r) || tokenOf(v, int(m.id)) != tokenOf(v, int(left))+tokenOf(v, int(right)) {
				t.Fatalf("merge %d: pair gives %v, %v", r, m, ok)
			}
		}
		w := []int32{v.byteID['a'], v.byteID['b'], v.byteID['c'], v.byteID['a'], v.byteID['b']}
		v.merge(slices.Clone(w))
		v.mergeLong(w)
	})
}

func tokenOf(v *vocab, id int) string { return string(v.appendToken(nil, id)) }
