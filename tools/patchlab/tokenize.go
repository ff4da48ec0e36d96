package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
)

func runTokenize(ctx context.Context, std *stdio, args []string) error {
	f := newFlags("tokenize", "[-json] [-file F | TEXT]", `
Shows how GPT-2's tokenizer splits TEXT: the ids, then the tokens:

  Input: Michelle Jones was a top-notch student. Michelle
  Tokenized input: [48736 5437 373 257 1353 12 1662 354 3710 13 16738]
  Number of input tokens: 11
  Detokenized input as strings: Michelle/ Jones/ was/ a/ top/-/not/ch/ student/./ Michelle

With -json, one object {"ids":[…],"tokens":[…]} instead.`)
	asJSON := f.Bool("json", false, "print one JSON object {\"ids\":[…],\"tokens\":[…]}")
	file := f.String("file", "", "read the text from `F` (- for standard input) instead of the argument")
	pos, err := f.parse(args, std.out)
	if err != nil {
		return err
	}
	var text string
	if *file != "" {
		if err := f.wantArgs(pos, 0, "no TEXT with -file"); err != nil {
			return err
		}
		if text, err = readText(*file); err != nil {
			return err
		}
	} else {
		if err := f.wantArgs(pos, 1, "one TEXT (quote it) or -file F"); err != nil {
			return err
		}
		text = pos[0]
		if !utf8.ValidString(text) {
			return inputf("the text is not valid UTF-8")
		}
	}
	if text == "" {
		return inputf("the text is empty: give a sentence")
	}
	toks := analysis.Tokenize(bpe.New(), text)
	if *asJSON {
		return writeJSON(std.out, tokenization(toks), false)
	}
	fmt.Fprintf(std.out, "Input: %s\nTokenized input: %v\nNumber of input tokens: %d\nDetokenized input as strings: %s\n",
		text, tokenization(toks).IDs, len(toks), analysis.Join(toks))
	return nil
}

// tokenizationJSON is tokenize -json's object.
type tokenizationJSON struct {
	IDs    []int    `json:"ids"`
	Tokens []string `json:"tokens"`
}

func tokenization(toks []analysis.Token) tokenizationJSON {
	out := tokenizationJSON{IDs: make([]int, len(toks)), Tokens: make([]string, len(toks))}
	for i, t := range toks {
		out.IDs[i], out.Tokens[i] = t.ID, t.Text
	}
	return out
}

// readText reads a text file (or standard input for "-"), which must be UTF-8.
func readText(path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", asInput(err)
	}
	if !utf8.Valid(b) {
		return "", inputf("%s is not valid UTF-8 text: save it as UTF-8", path)
	}
	return string(b), nil
}
