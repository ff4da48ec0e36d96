package main

import (
	"context"
	"fmt"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/patch"
)

func runTop(ctx context.Context, std *stdio, args []string) error {
	f := newFlags("top", "[-model M] [-k 20] TEXT", `
Runs TEXT through the model and prints the k most probable next tokens after
its last position as a table: rank, token index, token and probability (a Markdown table, ready to paste into a report).`)
	model := f.String("model", "", modelFlagUsage)
	k := f.Int("k", analysis.TopK, "the number of tokens to show")
	pos, err := f.parse(args, std.out)
	if err != nil {
		return err
	}
	if err := f.wantArgs(pos, 1, "one TEXT (quote it)"); err != nil {
		return err
	}
	text := pos[0]
	if *k < 1 {
		return inputf("-k %d: want at least 1", *k)
	}
	m, err := loadModel(*model)
	if err != nil {
		return err
	}
	tok := bpe.New()
	toks, err := analysis.CheckText(tok, m.Config, "", text)
	if err != nil {
		return err
	}
	ids := tokenization(toks).IDs
	logits, _, err := m.Forward(ids, nil, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "Input: %s\nTokens (%d): %s\n\n", text, len(toks), analysis.Join(toks))
	printTop(std.out, tok, patch.Top(logits, *k))
	return nil
}
