package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/webfmt"
)

// errHelpShown is returned when -h printed a command's help: exit 0.
var errHelpShown = errors.New("help shown")

// flags is one subcommand's flag set with its help text.
type flags struct {
	*flag.FlagSet
	synopsis, about string
	hidden          map[string]bool // flags left out of the help (for tests)
}

// newFlags makes the flag set of command name. synopsis is its usage line,
// about the text printed under it by -h.
func newFlags(name, synopsis, about string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are reported in one line by run
	fs.Usage = func() {}
	return &flags{FlagSet: fs, synopsis: synopsis, about: about, hidden: map[string]bool{}}
}

// parse parses args, allowing flags after positional arguments (everything
// after "--" is positional). With -h it prints the help to out and returns
// errHelpShown.
func (f *flags) parse(args []string, out io.Writer) ([]string, error) {
	var pos []string
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.help(out)
			return nil, errHelpShown
		}
		if err != nil {
			return nil, inputf("%v (see patchlab %s -h)", err, f.Name())
		}
		rest := f.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// help prints the usage line, the description and the visible flags.
func (f *flags) help(w io.Writer) {
	fmt.Fprintf(w, "usage: patchlab %s %s\n\n%s\n", f.Name(), f.synopsis, strings.TrimSpace(f.about))
	visible := flag.NewFlagSet(f.Name(), flag.ContinueOnError)
	n := 0
	f.VisitAll(func(fl *flag.Flag) {
		if !f.hidden[fl.Name] {
			visible.Var(fl.Value, fl.Name, fl.Usage)
			visible.Lookup(fl.Name).DefValue = fl.DefValue
			n++
		}
	})
	if n > 0 {
		fmt.Fprintf(w, "\nflags:\n")
		visible.SetOutput(w)
		visible.PrintDefaults()
	}
}

// wantArgs checks the number of positional arguments.
func (f *flags) wantArgs(pos []string, n int, what string) error {
	if len(pos) != n {
		return inputf("want %s, got %d argument(s) (see patchlab %s -h)", what, len(pos), f.Name())
	}
	return nil
}

// requestFlags are the texts and targets of an analysis (sweep, inspect).
func requestFlags(f *flags, req *analysis.Request) {
	f.StringVar(&req.Clean, "clean", "", "the clean `text`")
	f.StringVar(&req.Corrupted, "corrupted", "", "the corrupted `text`, with as many tokens as the clean one")
	f.StringVar(&req.CleanTarget, "clean-target", "", "the clean run's expected next `token`, with its leading space (\" Jones\")")
	f.StringVar(&req.CorruptedTarget, "corrupted-target", "", "the corrupted run's expected next `token` (\" Smith\")")
}

// bitsFlag is -bits: quantise a float32 model in memory (withBits).
func bitsFlag(f *flags, bits *int) {
	f.IntVar(bits, "bits", 0, "quantise an F32 model in memory first as the web format would with `N`-bit codes (9…16), to compare; a web-format model already is")
}

// checkRequest checks what requestFlags and bitsFlag read, before anything
// is loaded: the flags cmd needs (what says why), valid UTF-8, the width.
func checkRequest(f *flags, req analysis.Request, bits int, needs []string, what, cmd string) error {
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var missing []string
	for _, name := range needs {
		if !set[name] {
			missing = append(missing, "-"+name)
		}
	}
	if len(missing) > 0 {
		return inputf("missing %s: %s (see patchlab %s -h)", strings.Join(missing, ", "), what, cmd)
	}
	for _, t := range []struct{ name, s string }{{"clean text", req.Clean}, {"corrupted text", req.Corrupted}, {"clean target", req.CleanTarget}, {"corrupted target", req.CorruptedTarget}} {
		if !utf8.ValidString(t.s) {
			return inputf("the %s is not valid UTF-8", t.name)
		}
	}
	if bits != 0 {
		if err := webfmt.CheckBits(bits); err != nil {
			return inputf("-bits %d: %v, or leave it out to run the model as loaded", bits, err)
		}
	}
	return nil
}
