package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/webfmt"
)

const benchAbout = `
Times the sweep the README describes, resid_post over 12 layers × N
positions, on a GPT-2-small-shaped model with random weights held in memory
(12 layers, 12 heads, width 768, vocabulary 50257, context 1024; weights
~N(0, 0.02)), so the cost is a real sweep's. The texts are N random tokens differing only at
position 1, the targets the two tokens there (like "Michelle Jones/Smith").

Prints one JSON line:
  engine           "native"
  weights          "f32", or "qN": the web format's N-bit codes (-int8)
  threads          GOMAXPROCS
  tokens, cells    N and 12·N
  forward_seconds  one plain forward pass of N tokens (the fastest of runs)
  sweep_seconds    both unpatched runs plus the sweep (as the peer baseline
                   ../shared/bench/peer_sweep.py times it), the fastest of
                   runs runs
  gflop            2 × the multiply-adds of the weight matrices in one such
                   sweep, counted exactly in an extra run through a counting
                   wrapper around each matrix; attention's scores and
                   weighted sums of values are not counted
  gflop_per_second gflop / sweep_seconds
With -naive also naive_seconds and naive_gflop (one run of the naive sweep,
one full forward pass per cell patched through a hook; timed through the
counting wrapper, one atomic add per matrix product), speedup (naive_seconds / sweep_seconds) and naive_max_abs_diff (the
largest difference between the two sweeps' logit differences).

The same sweep in the browser, on the wasm engine in the page's web workers:
  go run ./tools/browserbench [-browser chromium] [-workers N] [-bits N]`

// benchResult is bench's JSON line.
type benchResult struct {
	Engine          string   `json:"engine"`
	Model           string   `json:"model"`
	Weights         string   `json:"weights"`
	Threads         int      `json:"threads"`
	Tokens          int      `json:"tokens"`
	Cells           int      `json:"cells"`
	Runs            int      `json:"runs"`
	ForwardSeconds  float64  `json:"forward_seconds"`
	SweepSeconds    float64  `json:"sweep_seconds"`
	GFLOP           float64  `json:"gflop"`
	GFLOPPerSecond  float64  `json:"gflop_per_second"`
	NaiveSeconds    float64  `json:"naive_seconds,omitempty"`
	NaiveGFLOP      float64  `json:"naive_gflop,omitempty"`
	Speedup         float64  `json:"speedup,omitempty"`
	NaiveMaxAbsDiff *float64 `json:"naive_max_abs_diff,omitempty"`
}

// benchConfigs are the models bench can build; tiny (the fixture's shape) is for tests.
var benchConfigs = map[string]gpt2.Config{
	"small": gpt2.Small,
	"tiny":  {Layers: 4, Heads: 4, Width: 64, Context: 64, Vocab: 50257},
}

func runBench(ctx context.Context, std *stdio, args []string) error {
	f := newFlags("bench", "[-tokens N] [-int8] [-bits N] [-threads N] [-naive]", benchAbout)
	tokens := f.Int("tokens", 11, "the number of tokens `N` of each text")
	int8 := f.Bool("int8", false, "quantise the model to the web format first (the name is historical: -bits codes)")
	bits := f.Int("bits", webfmt.DefaultBits, "with -int8: the block matrices' code `width`, 9…16 (wte's is one less)")
	threads := f.Int("threads", runtime.GOMAXPROCS(0), "set GOMAXPROCS to `N`")
	naive := f.Bool("naive", false, "also time the naive sweep, one full forward pass per cell")
	runs := f.Int("runs", 3, "time the sweep `N` times and report the fastest")
	seed := f.Uint64("seed", 1, "the random `seed` of the weights and tokens")
	config := f.String("config", "small", "the model's shape: small or tiny")
	f.hidden["config"] = true
	pos, err := f.parse(args, std.out)
	if err != nil {
		return err
	}
	if err := f.wantArgs(pos, 0, "no arguments"); err != nil {
		return err
	}
	cfg, ok := benchConfigs[*config]
	switch {
	case !ok:
		return inputf("-config %q: want small or tiny", *config)
	case *tokens < 2 || *tokens > cfg.Context:
		return inputf("-tokens %d: want 2…%d (the texts differ at position 1)", *tokens, cfg.Context)
	case *runs < 1:
		return inputf("-runs %d: want at least 1", *runs)
	case *threads < 1:
		return inputf("-threads %d: want at least 1", *threads)
	case webfmt.CheckBits(*bits) != nil:
		return inputf("-bits %d: %v", *bits, webfmt.CheckBits(*bits))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))

	m := gpt2.Random(cfg, *seed)
	res := benchResult{Engine: "native", Model: *config + "-random", Weights: "f32", Threads: runtime.GOMAXPROCS(0), Tokens: *tokens, Runs: *runs}
	if *int8 {
		m, res.Weights = webfmt.Quantize(m, *bits), fmt.Sprintf("q%d", *bits)
	}
	clean, corrupted := benchTexts(cfg, *tokens, *seed)

	var s *patch.Session
	var mx *patch.Matrix
	for i := range *runs {
		start := time.Now()
		if _, _, err := m.Forward(clean, nil, false); err != nil {
			return err
		}
		forward := seconds(time.Since(start))
		start = time.Now()
		if s, mx, err = benchSweep(ctx, m, clean, corrupted); err != nil {
			return err
		}
		sweep := seconds(time.Since(start))
		if i == 0 || forward < res.ForwardSeconds {
			res.ForwardSeconds = forward
		}
		if i == 0 || sweep < res.SweepSeconds {
			res.SweepSeconds = sweep
		}
	}
	res.Cells = mx.Rows * mx.Cols
	counted, macs := countMACs(m)
	if _, _, err := benchSweep(ctx, counted, clean, corrupted); err != nil {
		return err
	}
	res.GFLOP = round(2*float64(macs.Load())/1e9, 4)
	res.GFLOPPerSecond = round(res.GFLOP/max(res.SweepSeconds, 1e-6), 3)

	if *naive {
		macs.Store(0)
		start := time.Now()
		ns, err := patch.NewSession(counted, clean, corrupted, clean[1], corrupted[1])
		if err != nil {
			return err
		}
		nm, err := patch.NaiveSweep(ctx, ns, patch.Site{Kind: gpt2.ResidPost})
		if err != nil {
			return err
		}
		diffs, err := ns.Values(nm, patch.LogitDiff)
		if err != nil {
			return err
		}
		res.NaiveSeconds = seconds(time.Since(start))
		res.NaiveGFLOP = round(2*float64(macs.Load())/1e9, 4)
		res.Speedup = round(res.NaiveSeconds/max(res.SweepSeconds, 1e-6), 2)
		got, err := s.Values(mx, patch.LogitDiff)
		if err != nil {
			return err
		}
		worst := 0.0
		for i, d := range diffs {
			worst = max(worst, math.Abs(d-got[i]))
		}
		res.NaiveMaxAbsDiff = &worst
	}
	return writeJSON(std.out, res, false)
}

// benchSweep is what bench times: both unpatched runs, then the sweep.
func benchSweep(ctx context.Context, m *gpt2.Model, clean, corrupted []int) (*patch.Session, *patch.Matrix, error) {
	s, err := patch.NewSession(m, clean, corrupted, clean[1], corrupted[1])
	if err != nil {
		return nil, nil, err
	}
	mx, err := s.Sweep(ctx, patch.Site{Kind: gpt2.ResidPost}, patch.Options{}, nil)
	return s, mx, err
}

// benchTexts are n random tokens and a copy that differs at position 1.
func benchTexts(cfg gpt2.Config, n int, seed uint64) (clean, corrupted []int) {
	r := rand.New(rand.NewPCG(seed, 2))
	clean = make([]int, n)
	for i := range clean {
		clean[i] = r.IntN(cfg.Vocab)
	}
	corrupted = append([]int(nil), clean...)
	corrupted[1] = (clean[1] + 1) % cfg.Vocab
	return clean, corrupted
}

func seconds(d time.Duration) float64 { return round(d.Seconds(), 6) }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
