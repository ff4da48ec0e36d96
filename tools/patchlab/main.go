// Command patchlab is activation patching on GPT-2 small from the command
// line: tokenize a text, show the next-token probabilities, sweep a clean and
// a corrupted text into heatmaps (PNG, SVG, PDF), CSV and JSON, convert and
// fetch weights, and benchmark the sweep.
//
//	go run ./tools/patchlab help
//	go run ./tools/patchlab sweep -h
//
// Exit status: 0 done, 1 internal error, 2 bad input or usage (one line on
// stderr says what to change), 130 interrupted (no output files written).
package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, io *stdio, args []string) error
}

// stdio is where a command writes.
type stdio struct{ out, err io.Writer }

var commands = []command{
	{"tokenize", "show how GPT-2 splits a text into tokens", runTokenize},
	{"top", "show the most probable next tokens after a text", runTop},
	{"sweep", "patch a corrupted run with a clean one, site by site: heatmaps, CSV, JSON", runSweep},
	{"inspect", "look inside the clean and corrupted runs: attention patterns, logit lens, direct logit attribution", runInspect},
	{"convert", "convert a model.safetensors to the web format (integer-coded shards + manifest.json)", runConvert},
	{"fetch", "download GPT-2 and convert it to the web format", runFetch},
	{"check", "check GPT-2 small against the published numbers (top-20 probabilities, heatmap shape)", runCheck},
	{"bench", "time the 12 × N resid_post sweep on a random GPT-2-small-shaped model", runBench},
}

func main() {
	os.Exit(run(interruptContext(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &checkedWriter{w: stdout}
	std := &stdio{out, stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitInput
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(rest) > 0 && name == "help" {
			name, rest = rest[0], []string{"-h"}
			break
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == name {
			err := guard(func() error { return c.run(ctx, std, rest) })
			if err == nil || err == errHelpShown {
				err = cmp.Or(out.lost(), err)
			}
			if err == errHelpShown {
				return exitOK
			}
			if err != nil {
				report(stderr, name, err)
			}
			return exitCode(err)
		}
	}
	fmt.Fprintf(stderr, "patchlab: unknown command %q (run patchlab help for the list)\n", name)
	return exitInput
}

// guard turns a panic (a bug: Go would exit with status 2, as for bad
// input) into an internal error, exit status 1, with its stack for a report.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error (please report it, with this message): %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "patchlab: activation patching on GPT-2 small\n\nusage: patchlab COMMAND [flags] [args]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run patchlab COMMAND -h for a command's flags. Flags may also follow the
arguments; put -- before a text that starts with "-".

Without -model, commands use the converted GPT-2 in $PATCHLAB_WEIGHTS, else
in ~/.cache/patchlab/gpt2 ($XDG_CACHE_HOME/patchlab/gpt2), where patchlab fetch and
./build.sh weights put it.

Exit status: 0 done, 1 internal error, 2 bad input or usage, 130 interrupted.
`)
}
