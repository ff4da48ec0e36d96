package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/promptset"
)

// designHelp is sweep's help on the experiment's design.
const designHelp = `
Direction (-direction):
  denoise  (default) the corrupted run with one activation of the clean run:
           is that activation sufficient to restore the clean answer?
  noise    the clean run with one activation of the corrupted run: is it
           necessary for the clean answer? The metrics keep their meaning:
           normalized is still 0 at the corrupted run and 1 at the clean
           run, so a noising cell near 1 means the activation did not
           matter and a cell near 0 that it carried the whole answer. The
           JSON fields are noise_resid_post, noise_embed, noise_attn_out,
           noise_mlp_out, noise_head_z_all_positions (as views-golden.json).

Corruption (-corruption):
  text     (default) the corrupted text.
  noise    Gaussian noise (causal tracing, Meng et al. 2022): the corrupted
           run is the clean text with noise of standard deviation
           -noise-scale × (the standard deviation of the token embedding
           matrix wte) added to the embedding of -noise-positions (default:
           the positions where the clean and corrupted texts differ, so
           -corrupted only chooses them), once per seed -seed, -seed+1, …
           (-noise-seeds runs), then averaged. The same seed gives the same
           numbers. The targets are still needed: the metric compares them.

Prompt sets (-pairs): a JSONL file, one {"clean", "corrupted",
"clean_target", "corrupted_target"} object a line, or a generated set:
  ioi:N      indirect object identification (Wang et al. 2022), "When Mary
             and John went to the store, John gave a drink to" → " Mary",
             ABBA and BABA orders; corrupted: the second "John" becomes
             "Mary", so the answer flips to " John".
  factual:N  "The capital of France is" → " Paris", corrupted by another
             country ("… of Italy is" → " Rome").
Generated sets depend on -seed only. Every pair must have the same token
count as the first one that runs (pairs are not grouped by template); a
pair that breaks a rule is reported with the reason and skipped, the rest
run. Each pair (and each noise seed) is one run; every cell's metric is
computed per run with that run's baselines, then averaged.

Outputs of a set or of noise corruption: -json F holds the mean logit
difference per site (patch_resid_post, …, or noise_* when noising), the
standard deviation over runs beside it (patch_resid_post_std, …), with
another -metric its mean and deviation (matrices, matrices_std), the mean
baselines, the noise's scale, sigma, seeds and positions, and one record
per pair (its baselines, its matrices of the metric, or why it was
skipped). -csv, -png, -svg, -pdf write the mean, and the standard
deviation as a second file with "-std" before the extension.
`

// design is how the experiment is set up: which run is patched, how the
// corrupted run is made, one pair or a set.
type design struct {
	direction, corruption, positions, pairs string
	scale                                   float64
	seeds                                   int
	seed                                    uint64

	dir   patch.Direction
	noise *promptset.Noise
}

func (d *design) flags(f *flags) {
	f.StringVar(&d.direction, "direction", "denoise", "`denoise` (the corrupted run, one clean activation) or noise (the clean run, one corrupted activation)")
	f.StringVar(&d.corruption, "corruption", "text", "how the corrupted run is made: `text` (the corrupted text) or noise (Gaussian noise on the clean text's embedding)")
	f.Float64Var(&d.scale, "noise-scale", promptset.DefaultNoiseScale, "the noise's standard deviation, in `multiples` of the token embeddings' (wte's)")
	f.IntVar(&d.seeds, "noise-seeds", promptset.DefaultNoiseSeeds, "average the noise over `N` seeds: -seed, -seed+1, …")
	f.StringVar(&d.positions, "noise-positions", "", "comma-separated `positions` to add noise to (default: where the clean and corrupted texts differ)")
	f.StringVar(&d.pairs, "pairs", "", "sweep a prompt set: a JSONL `file`, or ioi:N or factual:N generated from -seed")
	f.Uint64Var(&d.seed, "seed", 1, "the `seed` of generated pairs and of the noise")
}

// check reads the design flags.
func (d *design) check(f *flags) error {
	var err error
	if d.dir, err = patch.ParseDirection(d.direction); err != nil {
		return asInput(err)
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch d.corruption {
	case "text":
		for _, name := range []string{"noise-scale", "noise-seeds", "noise-positions"} {
			if set[name] {
				return inputf("-%s needs -corruption noise", name)
			}
		}
	case "noise":
		if !(d.scale > 0) || math.IsInf(d.scale, 0) {
			return inputf("-noise-scale %g: want a number above 0, such as 3", d.scale)
		}
		if d.seeds < 1 {
			return inputf("-noise-seeds %d: want at least 1", d.seeds)
		}
		d.noise = &promptset.Noise{Scale: d.scale, Seed: d.seed, Seeds: d.seeds}
		if d.positions != "" {
			for _, p := range strings.Split(d.positions, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(p))
				if err != nil || n < 0 {
					return inputf("-noise-positions %q: want positions (0, 1, …) separated by commas", d.positions)
				}
				d.noise.Positions = append(d.noise.Positions, n)
			}
		}
	default:
		return inputf("-corruption %q: want text or noise", d.corruption)
	}
	if d.pairs != "" {
		for _, name := range []string{"clean", "corrupted", "clean-target", "corrupted-target"} {
			if set[name] {
				return inputf("-%s with -pairs: the set gives the texts and targets; leave out -%s", name, name)
			}
		}
	}
	return nil
}

// needs is the flags a single pair must give, and the sentence saying so.
func (d *design) needs() ([]string, string) {
	switch {
	case d.pairs != "":
		return nil, ""
	case d.corruption == "noise" && d.positions != "":
		return []string{"clean", "clean-target", "corrupted-target"},
			"sweep -corruption noise needs -clean, -clean-target and -corrupted-target"
	case d.corruption == "noise":
		return []string{"clean", "corrupted", "clean-target", "corrupted-target"},
			"sweep -corruption noise needs -clean, -clean-target, -corrupted-target and either -noise-positions or -corrupted (the noise goes where the texts differ)"
	}
	return []string{"clean", "corrupted", "clean-target", "corrupted-target"},
		"sweep needs -clean, -corrupted, -clean-target and -corrupted-target, or -pairs"
}

// isSet reports whether the sweep averages runs: a prompt set or noise seeds.
func (d *design) isSet() bool { return d.pairs != "" || d.noise != nil }

// titled adds the direction to a figure's first title line when noising.
func (d *design) titled(title []string) []string {
	if d.dir == patch.Noise && len(title) > 0 {
		title[0] = strings.Replace(title[0], "Activation patching", "Activation patching (noising: the clean run with one corrupted activation)", 1)
	}
	return title
}

// loadPairs reads -pairs: a generator spec or a JSONL file.
func (d *design) loadPairs() ([]promptset.Pair, error) {
	if name, _, _ := strings.Cut(d.pairs, ":"); promptset.Generators[name] != nil {
		pairs, err := promptset.Generate(d.pairs, d.seed)
		return pairs, asInput(err)
	}
	f, err := os.Open(d.pairs)
	if err != nil {
		return nil, inputf("-pairs %s: %v (want a .jsonl file, or ioi:N or factual:N)", d.pairs, err)
	}
	defer f.Close()
	pairs, err := promptset.ReadJSONL(f)
	if err != nil {
		return nil, inputf("-pairs %s: %v", d.pairs, err)
	}
	return pairs, nil
}

// runSet sweeps a prompt set, or one pair over noise seeds, and writes the
// means and spreads.
func (o *sweepFlags) runSet(ctx context.Context, std *stdio, m *gpt2.Model, tok *bpe.Tokenizer) error {
	pairs := []promptset.Pair{{Request: o.req}}
	if o.pairs != "" {
		var err error
		if pairs, err = o.loadPairs(); err != nil {
			return err
		}
	}
	set, err := promptset.New(m, tok, promptset.Options{Sites: o.siteList, Metric: o.met, Direction: o.dir, Noise: o.noise})
	if err != nil {
		return asInput(err)
	}
	// Progress in cells, counting from the first pair's length.
	var total, done int64
	if first := pairs[0].Request.Clean; first != "" {
		total = int64(len(pairs) * set.CellsPerPair(len(tok.Encode(first))))
	}
	prog := newProgress(std.err, cellsUnit)
	label := fmt.Sprintf("sweep: %d pairs, cells", len(pairs))
	set.OnRow = func(cells int) {
		done += int64(cells)
		prog.update(label, done, max(total, done))
	}
	var results []*promptset.PairResult
	for i, p := range pairs {
		res, err := set.Add(ctx, i, p)
		if err != nil {
			prog.done()
			return err
		}
		if res.Error != "" {
			done += int64(set.CellsPerPair(set.T))
			fmt.Fprintf(std.out, "pair %d skipped (%s): %s\n", i, res.Reason, res.Error)
		}
		results = append(results, res)
	}
	prog.update(label, done, done)
	prog.done()
	if set.Pairs == 0 {
		return inputf("no pair could run (see the reasons above): fix the pairs")
	}
	if len(pairs) == 1 {
		fmt.Fprintf(std.out, "Clean: %s\n", analysis.OneLine(pairs[0].Clean))
	}
	clean, cleanSD, corr, corrSD := set.Baselines()
	fmt.Fprintf(std.out, "%d of %d pairs ran, %d runs (%s, %s corruption); logit difference: clean %.4f ± %.4f, corrupted %.4f ± %.4f (mean ± standard deviation over runs)\n",
		set.Pairs, len(pairs), set.Runs, o.dir, o.corruption, clean, cleanSD, corr, corrSD)
	if o.noise != nil {
		fmt.Fprintf(std.out, "noise: %g × %.4f (wte's standard deviation) = σ %.4f, seeds %d…%d\n", o.noise.Scale, set.Sigma/o.noise.Scale, set.Sigma, o.noise.Seed, o.noise.Seed+uint64(o.noise.Seeds)-1)
	}
	return o.writeSet(ctx, std.out, set, results)
}

// setViews are the set's mean and standard-deviation views of the metric.
func setViews(set *promptset.Set, met patch.Metric) (mean, spread []view, err error) {
	var ms, ss []sweptSite
	for _, site := range set.Sites {
		mu, sd, err := set.Values(site, met)
		if err != nil {
			return nil, nil, err
		}
		l := site.Layout(set.Model.Config, set.T)
		mx := &patch.Matrix{Site: site, Direction: set.Direction, Rows: l.Rows, Cols: l.Cols}
		ms = append(ms, sweptSite{site: site, mx: mx, vals: mu})
		ss = append(ss, sweptSite{site: site, mx: mx, vals: sd})
	}
	labels := set.PositionLabels()
	return layoutViews(set.Model.Config, set.T, labels, ms), layoutViews(set.Model.Config, set.T, labels, ss), nil
}

// writeSet writes the set's outputs, or prints its matrices.
func (o *sweepFlags) writeSet(ctx context.Context, stdout io.Writer, set *promptset.Set, results []*promptset.PairResult) error {
	means, spreads, err := setViews(set, o.met)
	if err != nil {
		return err
	}
	if o.json == "" && o.csv == "" && o.png == "" && o.svg == "" && o.pdf == "" {
		for i := range means {
			fmt.Fprintf(stdout, "Mean over %d runs: ", set.Runs)
			printView(stdout, means[i], o.met)
			fmt.Fprintf(stdout, "Standard deviation over %d runs: ", set.Runs)
			printView(stdout, spreads[i], o.met)
		}
		return nil
	}
	outs := &outputs{}
	defer outs.abort()
	if o.json != "" {
		rec := set.Record(results)
		if o.pairs != "" {
			rec.Source = o.pairs
			if _, isGen := promptset.Generators[strings.Split(o.pairs, ":")[0]]; isGen {
				rec.Seed = &o.seed
			}
		}
		if err := outs.add(o.json, func(w io.Writer) error { return writeJSON(w, rec, true) }); err != nil {
			return err
		}
	}
	several := len(means) > 1
	for i := range means {
		for k, v := range []view{means[i], spreads[i]} {
			name := v.name
			if k == 1 {
				name += "-std"
			}
			file := func(path string) string {
				if k == 1 && !several {
					ext := filepath.Ext(path)
					return strings.TrimSuffix(path, ext) + "-std" + ext
				}
				return perView(path, name, several)
			}
			if o.csv != "" {
				if err := outs.add(file(o.csv), func(w io.Writer) error { return writeCSV(w, v) }); err != nil {
					return err
				}
			}
			fig := figure{view: v, title: o.setTitle(set, v, k == 1), barLabel: setBarLabel(o.met, k == 1)}
			for _, out := range []struct{ path, format string }{{o.png, "png"}, {o.svg, "svg"}, {o.pdf, "pdf"}} {
				if out.path == "" {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := outs.add(file(out.path), func(w io.Writer) error { return writeFigure(w, out.format, fig) }); err != nil {
					return err
				}
			}
		}
	}
	written, err := outs.commit(ctx)
	for _, p := range written {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return err
}

// setTitle is a set figure's title: what is averaged, how the runs were
// made, and the pairs.
func (o *sweepFlags) setTitle(set *promptset.Set, v view, spread bool) []string {
	site := v.name
	if len(v.rowLabels) > 0 && v.rowLabels[0] == "embed" && v.name == "resid_post" {
		site = "resid_post (and embed)"
	}
	stat := "mean"
	if spread {
		stat = "standard deviation"
	}
	what := "denoising: the corrupted run with one clean activation"
	if o.dir == patch.Noise {
		what = "noising: the clean run with one corrupted activation"
	}
	source := fmt.Sprintf("%d pairs", set.Pairs)
	switch {
	case o.pairs != "" && promptset.Generators[strings.Split(o.pairs, ":")[0]] != nil:
		source += fmt.Sprintf(" of %s, seed %d", o.pairs, o.seed)
	case o.pairs != "":
		source += " from " + filepath.Base(o.pairs)
	default:
		source = fmt.Sprintf("clean: %q", o.req.Clean)
	}
	corruption := "corrupted texts"
	if o.noise != nil {
		corruption = fmt.Sprintf("Gaussian noise, σ = %g × std(wte) = %.3g, %d seeds from %d", o.noise.Scale, set.Sigma, o.noise.Seeds, o.noise.Seed)
	}
	return []string{
		fmt.Sprintf("Activation patching, %s: %s of %s over %d runs", site, stat, o.met, set.Runs),
		what + "; " + corruption,
		source,
	}
}

func setBarLabel(met patch.Metric, spread bool) string {
	label := map[patch.Metric]string{
		patch.LogitDiff:        "logit(corrupted target) − logit(clean target)",
		patch.CleanTargetDelta: "logit(clean target) − its clean-run value",
		patch.Normalized:       "normalized logit difference (0 corrupted, 1 clean)",
		patch.ProbDiff:         "p(corrupted target) − p(clean target)",
	}[met]
	if spread {
		return "standard deviation over runs"
	}
	return "mean " + label
}
