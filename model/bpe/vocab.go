package bpe

import (
	_ "embed"
	"errors"
	"fmt"
	"math/bits"
	"sync"
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

//go:generate go test -run TestVocabFile -write-vocab

// vocabFile is GPT-2's vocabulary, encoder.json and vocab.bpe as OpenAI
// published them (kept beside this file), in a compact form that
// vocabfile_test.go writes and checks. It holds only what the files say
// beyond the way BPE builds a vocabulary: each merge makes one new token,
// its two tokens' bytes joined, and GPT-2 numbers the tokens in that order
// (the 256 one-byte tokens, then one per merge, then <|endoftext|>); the
// generator refuses files of another shape. Little-endian:
//
//	"bpe1"
//	uint32 M, uint32 S   the numbers of merges and of special tokens
//	[256]byte            the byte of token i, for i < 256
//	M × [2]uint16        merge r (rank r): its left and right tokens' ids; it makes token 256+r
//	S × (uint8 n, n bytes)   tokens 256+M … 256+M+S-1
//
// (go generate needs the package to compile: to make vocab.bin from
// nothing, create it empty first.)
//
//go:embed vocab.bin
var vocabFile string

const vocabMagic = "bpe1"

// maxToken is the most bytes a token may have (GPT-2's longest has 128).
const maxToken = 255

// firstMerged is the id of the token that the merge of rank 0 makes.
const firstMerged = 256

// vocab is the decoded, immutable vocabulary. It keeps what the file holds:
// a merged token's bytes are spelled out from its merge when asked for, and
// merges are found by token ids, so encoding never builds strings.
type vocab struct {
	base    [256]byte  // token id < 256 -> its byte
	byteID  [256]int32 // byte -> id of the one-byte token
	pairs   []uint32   // rank -> left<<16 | right, the ids of the merge's two tokens
	special []string   // the tokens after the merges'
	sizes   []uint8    // token id -> its length in bytes
	longest int        // the longest token's length in bytes
	// slots is a hash table of pairs (open addressing, linear probing): the
	// rank+1 of the pair stored in a slot, or 0 for a free one. It is at most
	// half full; a pair's first slot is its hash's top bits, shift below.
	slots []uint16
	shift uint8
}

type merge struct {
	rank int32 // line number in vocab.bpe: lower merges first
	id   int32 // the token left+right
}

// size is the number of tokens.
func (v *vocab) size() int { return len(v.sizes) }

// appendToken appends the bytes of token id, which must be in 0..size()-1. A
// merged token's bytes are its left token's then its right token's: the loop
// walks down the merges, left first, keeping the right halves still to
// write (fewer than the token's bytes) on a stack.
func (v *vocab) appendToken(dst []byte, id int) []byte {
	var rights [maxToken]uint32
	n := 0
	for {
		if r := id - firstMerged; 0 <= r && r < len(v.pairs) {
			rights[n] = v.pairs[r] & 0xFFFF
			n++
			id = int(v.pairs[r] >> 16)
			continue
		}
		if id < firstMerged {
			dst = append(dst, v.base[id])
		} else {
			dst = append(dst, v.special[id-firstMerged-len(v.pairs)]...)
		}
		if n == 0 {
			return dst
		}
		n--
		id = int(rights[n])
	}
}

// pair returns the merge of the tokens left and right, if there is one.
func (v *vocab) pair(left, right int32) (merge, bool) {
	key := uint32(left)<<16 | uint32(right)
	mask := len(v.slots) - 1
	for i := v.slot(key); ; i = (i + 1) & mask {
		s := v.slots[i]
		if s == 0 {
			return merge{}, false
		}
		if v.pairs[s-1] == key {
			rank := int32(s) - 1
			return merge{rank: rank, id: firstMerged + rank}, true
		}
	}
}

// slot is the first slot to look in for key: the top bits of a
// multiplicative (Fibonacci) hash.
func (v *vocab) slot(key uint32) int {
	return int(uint64(key) * 0x9E3779B97F4A7C15 >> v.shift)
}

// loadVocab decodes the embedded vocabulary on first use, once for the process.
var loadVocab = sync.OnceValue(func() *vocab {
	v, err := decodeVocab(vocabFile)
	if err != nil {
		panic("bpe: embedded vocabulary: " + err.Error())
	}
	return v
})

// decodeVocab reads the form of vocabFile and builds the table of pairs.
// Token ids are below 1<<16 so that a pair fits in 32 bits and a rank+1 in 16.
func decodeVocab(f string) (*vocab, error) {
	const head = len(vocabMagic) + 8 + firstMerged
	if len(f) < head || f[:len(vocabMagic)] != vocabMagic {
		return nil, errors.New("not a vocabulary file")
	}
	nMerges, nSpecial := le32(f[4:]), le32(f[8:])
	if nMerges+nSpecial >= 1<<16-firstMerged || len(f) < head+4*nMerges {
		return nil, errors.New("vocabulary file too large or cut short")
	}
	merges, special := f[head:head+4*nMerges], f[head+4*nMerges:]
	n := firstMerged + nMerges + nSpecial
	pairs, sizes := make([]uint32, nMerges), make([]uint8, n)
	v := &vocab{pairs: pairs, special: make([]string, nSpecial), sizes: sizes}

	copy(v.base[:], f[head-firstMerged:head])
	var seen [256]bool
	for id, b := range v.base {
		if seen[b] {
			return nil, fmt.Errorf("byte %#x has two tokens", b)
		}
		seen[b] = true
		v.byteID[b] = int32(id)
		sizes[id] = 1
	}
	longest := 1
	for r := range pairs {
		left, right := le16(merges[4*r:]), le16(merges[4*r+2:])
		id := firstMerged + r
		if int(left) >= id || int(right) >= id {
			return nil, fmt.Errorf("merge %d joins a token not made yet", r)
		}
		size := int(sizes[left]) + int(sizes[right])
		if size > maxToken {
			return nil, fmt.Errorf("merge %d makes a token longer than %d bytes", r, maxToken)
		}
		pairs[r] = uint32(left)<<16 | uint32(right)
		sizes[id] = uint8(size)
		longest = max(longest, size)
	}
	for i := range v.special {
		if len(special) == 0 || len(special) < 1+int(special[0]) {
			return nil, errors.New("vocabulary file cut short in the special tokens")
		}
		size := int(special[0])
		v.special[i], special = special[1:1+size], special[1+size:]
		sizes[firstMerged+nMerges+i] = uint8(size)
		longest = max(longest, size)
	}
	if len(special) != 0 {
		return nil, errors.New("vocabulary file has trailing data")
	}
	v.longest = longest

	nSlots := 1
	for nSlots < 2*nMerges {
		nSlots *= 2
	}
	slots, mask := make([]uint16, nSlots), nSlots-1
	v.slots, v.shift = slots, uint8(64-bits.TrailingZeros(uint(nSlots)))
	for r, key := range pairs {
		i := v.slot(key)
		for s := slots[i]; s != 0; s = slots[i] {
			if pairs[s-1] == key {
				return nil, fmt.Errorf("merges %d and %d join the same tokens", s-1, r)
			}
			i = (i + 1) & mask
		}
		slots[i] = uint16(r + 1)
	}
	return v, nil
}

func le16(s string) uint16 { return uint16(s[0]) | uint16(s[1])<<8 }

func le32(s string) int {
	return int(s[0]) | int(s[1])<<8 | int(s[2])<<16 | int(s[3])<<24
}
