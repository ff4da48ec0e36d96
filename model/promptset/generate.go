package promptset

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
)

// Generators are the built-in sets, by name: -pairs ioi:40 is IOI(40, seed).
var Generators = map[string]func(n int, seed uint64) []Pair{
	"ioi":     IOI,
	"factual": Factual,
}

// Generate reads a generator spec "name:N" (ioi:40, factual:20) and makes
// its pairs.
func Generate(spec string, seed uint64) ([]Pair, error) {
	name, count, ok := strings.Cut(spec, ":")
	gen := Generators[name]
	n, err := strconv.Atoi(count)
	if !ok || gen == nil || err != nil || n < 1 {
		return nil, fmt.Errorf("%q: want ioi:N or factual:N with N ≥ 1 pairs (e.g. ioi:40), or a .jsonl file", spec)
	}
	return gen(n, seed), nil
}

// IOI is n indirect-object-identification prompts (Wang et al. 2022) of one
// frame, "When Mary and John went to the store, John gave a drink to" →
// " Mary", alternately in the ABBA order (indirect object first) and the
// BABA order (subject first), with names, place and object drawn from
// single-token lists. Every prompt is 14 tokens and each position has the
// same role in all of them.
//
// The corruption flips the answer: the second mention of the subject is
// replaced by the indirect object ("…, Mary gave a drink to"), so the
// indirect object of the corrupted text is the clean text's subject. The
// targets are the two names: clean " Mary", corrupted " John". Only the
// subject's second position (9) differs.
func IOI(n int, seed uint64) []Pair {
	r := rand.New(rand.NewPCG(seed, 0x696f69)) // "ioi"
	out := make([]Pair, n)
	for i := range out {
		a := r.IntN(len(ioiNames))
		b := (a + 1 + r.IntN(len(ioiNames)-1)) % len(ioiNames) // another name
		io, s := ioiNames[a], ioiNames[b]
		place, object := ioiPlaces[r.IntN(len(ioiPlaces))], ioiObjects[r.IntN(len(ioiObjects))]
		first, second, template := io, s, "ABBA"
		if i%2 == 1 {
			first, second, template = s, io, "BABA"
		}
		text := func(s2 string) string {
			return fmt.Sprintf("When %s and %s went to the %s, %s gave a %s to", first, second, place, s2, object)
		}
		out[i] = Pair{Template: template, Request: analysis.Request{
			Clean: text(s), Corrupted: text(io), CleanTarget: " " + io, CorruptedTarget: " " + s,
		}}
	}
	return out
}

// Single GPT-2 tokens with their leading space (checked by a test).
var (
	ioiNames = []string{"Mary", "John", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Alice", "Bob", "Paul", "Anne",
		"Kate", "Mark", "Sarah", "Laura", "Lisa", "Jane", "Emma", "Ben", "Jack", "Mike", "David", "Steve", "Chris",
		"Ryan", "Adam", "Rachel", "Tim", "Luke", "George", "Max", "Sam", "Anna", "Kevin", "Michael", "Peter", "Andrew",
		"Daniel", "Matt", "Alex", "Eric", "Emily", "Grace", "Rose", "Joe", "Henry", "Frank", "Karen"}
	ioiPlaces  = []string{"store", "park", "market", "station", "school", "beach", "restaurant", "hospital", "office", "garden"}
	ioiObjects = []string{"drink", "ring", "book", "gift", "letter", "bag", "ball", "key", "snack", "card"}
)

// Factual is n factual-recall prompts, "The capital of France is" →
// " Paris", each corrupted by another country of the list (a counterfactual
// subject of the same single-token length) whose capital is the corrupted
// target: "The capital of Italy is" → " Rome". Every prompt is 5 tokens;
// only the subject (position 3) differs. With -corruption noise the subject
// is the position noised, as in causal tracing (Meng et al. 2022).
func Factual(n int, seed uint64) []Pair {
	r := rand.New(rand.NewPCG(seed, 0x66616374)) // "fact"
	out := make([]Pair, n)
	for i := range out {
		a := r.IntN(len(capitals))
		b := (a + 1 + r.IntN(len(capitals)-1)) % len(capitals)
		text := func(country string) string { return "The capital of " + country + " is" }
		out[i] = Pair{Template: "capital", Request: analysis.Request{
			Clean: text(capitals[a][0]), Corrupted: text(capitals[b][0]),
			CleanTarget: " " + capitals[a][1], CorruptedTarget: " " + capitals[b][1],
		}}
	}
	return out
}

// capitals are (country, capital) pairs, each a single GPT-2 token with its
// leading space (checked by a test).
var capitals = [][2]string{
	{"France", "Paris"}, {"Germany", "Berlin"}, {"Italy", "Rome"}, {"Japan", "Tokyo"}, {"Spain", "Madrid"},
	{"Russia", "Moscow"}, {"Egypt", "Cairo"}, {"Canada", "Ottawa"}, {"China", "Beijing"}, {"Greece", "Athens"},
	{"Poland", "Warsaw"}, {"Sweden", "Stockholm"}, {"Norway", "Oslo"}, {"Peru", "Lima"}, {"Chile", "Santiago"},
	{"Turkey", "Ankara"}, {"Iran", "Tehran"}, {"Australia", "Canberra"}, {"England", "London"}, {"Ireland", "Dublin"},
	{"Austria", "Vienna"}, {"Portugal", "Lisbon"}, {"Hungary", "Budapest"}, {"Cuba", "Havana"}, {"Thailand", "Bangkok"},
}
