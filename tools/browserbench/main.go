// Command browserbench times patchlab's sweep where users run it: the wasm
// engine in a headless browser, in the page's web workers. It builds the
// site, converts a randomly initialised GPT-2-small-shaped model (the real
// sizes, so the real cost) to the web format, serves both, drives the page
// through a resid_post sweep of 12 layers × N positions and prints one JSON
// line (see Run). The native engine's figures: go run ./tools/patchlab bench.
//
//	go run ./tools/browserbench                       # Chromium, the page's workers, 9-bit codes
//	go run ./tools/browserbench -workers 2 -bits 12
//	go run ./tools/browserbench -browser firefox      # or webkit (tools/sitetest/drive)
//
// Exit status: 0 done, 1 the bench failed, 2 bad flags (one line on stderr
// says what to change), 130 interrupted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/tools/sitetest/drive"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// checkBrowser returns an error unless browserbench can drive name.
func checkBrowser(name string) error {
	if !slices.Contains(drive.Engines, name) {
		return fmt.Errorf("-browser %q: want %s", name, strings.Join(drive.Engines, ", "))
	}
	return nil
}

// run runs one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := flag.NewFlagSet("browserbench", flag.ContinueOnError)
	f.SetOutput(io.Discard)
	browser := f.String("browser", "chromium", "the browser `engine`: "+strings.Join(drive.Engines, ", "))
	workers := f.Int("workers", 0, "the number of web workers `N` (0: what the page picks for this machine)")
	bits := f.Int("bits", webfmt.DefaultBits, "the block matrices' code `width` in the web format, 9…16 (wte's is one less)")
	tokens := f.Int("tokens", 11, "the number of tokens `N` of each text, 3…1024")
	runs := f.Int("runs", 3, "time the sweep `N` times and report the fastest")
	seed := f.Uint64("seed", 1, "the random `seed` of the weights")
	bad := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "browserbench: "+format+"\n", args...)
		return 2
	}
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: go run ./tools/browserbench [-browser chromium|firefox|webkit] [-workers N] [-bits N] [-tokens N] [-runs N] [-seed N]")
			fmt.Fprintln(stdout, "Times loading the page (cold, then again from the browser's cache) and the 12 × N resid_post sweep of a random GPT-2-small-shaped model, in a headless browser; prints one JSON line.")
			f.SetOutput(stdout)
			f.PrintDefaults()
			return 0
		}
		return bad("%v (run with -h for the flags)", err)
	}
	switch {
	case f.NArg() > 0:
		return bad("%q: browserbench takes no arguments, only flags (run with -h for them)", f.Arg(0))
	case checkBrowser(*browser) != nil:
		return bad("%v", checkBrowser(*browser))
	case *workers < 0:
		return bad("-workers %d: want 0 (the page's choice) or more", *workers)
	case webfmt.CheckBits(*bits) != nil:
		return bad("-bits %d: %v", *bits, webfmt.CheckBits(*bits))
	case *tokens < 3 || *tokens > gpt2.Small.Context:
		return bad("-tokens %d: want 3…%d", *tokens, gpt2.Small.Context)
	case *runs < 1:
		return bad("-runs %d: want at least 1", *runs)
	case *seed == 0:
		return bad("-seed 0: want 1 or more")
	}
	res, err := Run(ctx, Options{Browser: *browser, Tokens: *tokens, Seed: *seed, Workers: *workers, Runs: *runs, Bits: *bits, Log: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "browserbench: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	b, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintf(stderr, "browserbench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}
