// Command wasm is patchlab's engine for the browser: built with GOOS=js
// GOARCH=wasm, it runs in the page's web workers. This file is the engine as
// the workers see it, free of syscall/js so that it is tested natively; the
// bridge to JavaScript is main_js.go. Every computation is a call into
// model/: this package only translates.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/bpe"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/model/weights"
)

// Engine holds one model and the analysis of the request last started.
type Engine struct {
	tok   *bpe.Tokenizer
	model *gpt2.Model
	an    *analysis.Analysis
	half  *half   // a run of StartHalf waiting for Join (split.go)
	std   float64 // patch.EmbedStd of model, once computed (design.go)
}

// NewEngine returns an engine with the tokenizer and no model yet.
func NewEngine() *Engine { return &Engine{tok: bpe.New()} }

// Info describes a loaded model.
type Info struct {
	// Name is what the page calls it (never "GPT-2 small" unless its
	// configuration is GPT-2 small's).
	Name string `json:"name"`
	// Check is the result of the published-numbers check the converter
	// recorded (patchlab check), if any.
	Check     *webfmt.Check `json:"check,omitempty"`
	Config    gpt2.Config   `json:"config"`
	Bytes     int64         `json:"bytes"`
	Quantized bool          `json:"quantized"` // the web format, not float32
	Bits      int           `json:"bits"`      // the web format's code width
	// Calibration is what the converter measured, if it calibrated.
	Calibration *webfmt.Calibration `json:"calibration,omitempty"`
	// Sites is the site table for this model; Heatmaps what the page offers.
	Sites    []analysis.SiteInfo `json:"sites"`
	Heatmaps []analysis.Heatmap  `json:"views"`
	// Directions are the directions of patching the page offers, with
	// how to read a heatmap in each.
	Directions []analysis.Direction `json:"directions"`
}

func (e *Engine) setModel(m *gpt2.Model, bits int, cal *webfmt.Calibration, check *webfmt.Check) Info {
	e.model, e.an, e.half, e.std = m, nil, nil, 0
	return Info{Name: m.Config.Name(), Check: check, Config: m.Config, Bytes: m.Bytes(), Quantized: bits != 0, Bits: bits, Calibration: cal,
		Sites: analysis.SiteInfos(m.Config), Heatmaps: analysis.Heatmaps, Directions: analysis.Directions}
}

// LoadWeb loads the web format: manifest.json's bytes, and open giving
// each shard's bytes (which webfmt checks against the manifest's sha256).
func (e *Engine) LoadWeb(manifest []byte, open func(file string) ([]byte, error)) (Info, error) {
	return e.loadWeb(manifest, open, webfmt.LoadFrom)
}

// LoadWebHashed is LoadWeb for shards whose sha256 open has checked
// (worker.js does, natively): the engine checks their sizes only.
func (e *Engine) LoadWebHashed(manifest []byte, open func(file string) ([]byte, error)) (Info, error) {
	return e.loadWeb(manifest, open, webfmt.LoadHashed)
}

func (e *Engine) loadWeb(manifest []byte, open func(file string) ([]byte, error), load func(*webfmt.Manifest, func(string) ([]byte, error)) (*gpt2.Model, error)) (Info, error) {
	m, err := webfmt.ParseManifest(manifest)
	if err != nil {
		return Info{}, err
	}
	model, err := load(m, open)
	if err != nil {
		return Info{}, err
	}
	return e.setModel(model, m.Bits, m.Calibration, m.Check), nil
}

// LoadSafetensors loads a Hugging Face GPT-2 checkpoint in float32, read
// tensor by tensor through r. configJSON is its config.json (nil: none, and
// the heads are taken to be 64 wide, as in every GPT-2).
func (e *Engine) LoadSafetensors(r io.ReaderAt, size int64, name string, configJSON []byte) (Info, error) {
	f, err := safetensors.Parse(r, size, name)
	if err != nil {
		return Info{}, err
	}
	m, err := weights.FromSafetensors(f, configJSON)
	if err != nil {
		return Info{}, err
	}
	return e.setModel(m, 0, nil, nil), nil
}

// Check reads only the header of a safetensors file and checks that it
// holds a GPT-2 checkpoint (its tensors' names and shapes, and configJSON
// as for LoadSafetensors), so that the page can refuse another file before
// it lets go of the model it has. The error names the file.
func Check(r io.ReaderAt, size int64, name string, configJSON []byte) (gpt2.Config, error) {
	f, err := safetensors.Parse(r, size, name)
	if err != nil {
		return gpt2.Config{}, err
	}
	return weights.Check(f, configJSON)
}

// Convert converts a Hugging Face GPT-2 checkpoint read through r to the
// web format with webfmt.Uncalibrated-bit codes in outDir (in the browser, a
// directory of the worker's in-memory file system), one tensor at a time:
// calibrating needs the float32 model and a dozen sweeps, minutes in one
// wasm thread. configJSON as for LoadSafetensors.
func Convert(ctx context.Context, r io.ReaderAt, size int64, name string, configJSON []byte, outDir string, progress func(done, total int64)) error {
	f, err := safetensors.Parse(r, size, name)
	if err != nil {
		return err
	}
	return webfmt.Convert(ctx, f, configJSON, outDir, webfmt.Uncalibrated, progress)
}

// Tokens is the live tokenization of a request and what is wrong with it.
type Tokens struct {
	Clean           []analysis.Token     `json:"clean"`
	Corrupted       []analysis.Token     `json:"corrupted"`
	CleanTarget     []analysis.Token     `json:"clean_target"`
	CorruptedTarget []analysis.Token     `json:"corrupted_target"`
	Error           *analysis.InputError `json:"error,omitempty"`
	// Warnings are likely mistakes that do not stop a run.
	Warnings []analysis.Warning `json:"warnings"`
	// Differ lists the positions whose tokens differ, when the counts agree.
	Differ []int `json:"differ"`
	// CleanCount and CorruptedCount are the texts' token counts; Clean and
	// Corrupted hold at most the model's context's worth of them (a pasted
	// book would otherwise make the page draw a chip per token). −1: more
	// than the context holds, the text too long to be tokenized whole.
	CleanCount     int `json:"clean_count"`
	CorruptedCount int `json:"corrupted_count"`
}

// maxTokenBytes is the length in bytes of the vocabulary's longest token
// (128 for GPT-2): a text of n bytes has at least n/maxTokenBytes tokens.
func maxTokenBytes(tok *bpe.Tokenizer) int { return tok.MaxTokenBytes() }

// cut returns the longest prefix of s of at most n bytes that ends on a
// character boundary, and whether s was longer.
func cut(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// Tokenize tokenizes the four fields and checks the request as a run would
// (against the loaded model's context, or GPT-2 small's before one loads).
// Its work is bounded whatever the input: a text longer than the context's
// worth of the longest token certainly has more tokens than the context,
// and a target longer than one token certainly is not one token, so only
// that much of each is tokenized.
func (e *Engine) Tokenize(req analysis.Request) Tokens {
	cfg := e.config()
	L := maxTokenBytes(e.tok)
	var short analysis.Request
	over := map[string]int{} // field → its length in bytes, for the fields cut
	for _, f := range []struct {
		name     string
		src      string
		dst      *string
		maxBytes int
	}{
		{"clean", req.Clean, &short.Clean, cfg.Context*L + 1},
		{"corrupted", req.Corrupted, &short.Corrupted, cfg.Context*L + 1},
		{"clean_target", req.CleanTarget, &short.CleanTarget, L + 1},
		{"corrupted_target", req.CorruptedTarget, &short.CorruptedTarget, L + 1},
	} {
		var was bool
		if *f.dst, was = cut(f.src, f.maxBytes); was {
			over[f.name] = len(f.src)
		}
	}
	t := Tokens{
		Clean: analysis.Tokenize(e.tok, short.Clean), Corrupted: analysis.Tokenize(e.tok, short.Corrupted),
		CleanTarget: analysis.Tokenize(e.tok, short.CleanTarget), CorruptedTarget: analysis.Tokenize(e.tok, short.CorruptedTarget),
		Differ: []int{},
	}
	t.CleanCount, t.CorruptedCount = len(t.Clean), len(t.Corrupted)
	t.Warnings = analysis.TargetWarnings(e.tok, short, t.Clean, t.Corrupted)
	if _, ok := over["clean"]; ok {
		t.CleanCount = -1
	}
	if _, ok := over["corrupted"]; ok {
		t.CorruptedCount = -1
	}
	if _, err := analysis.Check(e.tok, cfg, short); err != nil {
		t.Error = inputError(err)
		explain(t.Error, over, cfg)
	} else if ie := tooLongForPage(len(t.Clean)); ie != nil {
		t.Error = ie
	}
	if t.CleanCount >= 0 && t.CleanCount == t.CorruptedCount {
		for i := range t.Clean {
			if t.Clean[i].ID != t.Corrupted[i].ID {
				t.Differ = append(t.Differ, i)
			}
		}
	}
	n := cfg.Context
	t.Clean, t.Corrupted = t.Clean[:min(n, len(t.Clean))], t.Corrupted[:min(n, len(t.Corrupted))]
	t.CleanTarget, t.CorruptedTarget = t.CleanTarget[:min(n, len(t.CleanTarget))], t.CorruptedTarget[:min(n, len(t.CorruptedTarget))]
	return t
}

// config is the loaded model's configuration, or GPT-2 small's before one loads.
func (e *Engine) config() gpt2.Config {
	if e.model != nil {
		return e.model.Config
	}
	return gpt2.Small
}

// explain rewrites the message of an error about a field that Tokenize
// cut (its token count unknown).
func explain(ie *analysis.InputError, over map[string]int, cfg gpt2.Config) {
	if ie.Reason == "whitespace" || ie.Reason == "empty" {
		return
	}
	name := strings.ReplaceAll(ie.Field, "_", " ")
	isText := ie.Field == "clean" || ie.Field == "corrupted"
	switch n, cut := over[ie.Field]; {
	case cut && isText:
		ie.Msg = fmt.Sprintf("the %s text is %s long, more than the model's context of %d tokens can hold: shorten it", name, size(n), cfg.Context)
	case cut:
		ie.Msg = fmt.Sprintf("the %s is %s long, far more than one token: choose a word that is a single token, usually with its leading space such as \" Jones\"", name, size(n))
		ie.Target = nil
	}
}

// size says how long a text is.
func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 10_000:
		return fmt.Sprintf("%d kB (%d bytes)", n/1024, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

func inputError(err error) *analysis.InputError {
	var ie *analysis.InputError
	if errors.As(err, &ie) {
		return ie
	}
	return &analysis.InputError{Msg: err.Error(), FirstDiff: -1}
}

// Top is one row of a probability table, as in the assignment.
type Top struct {
	Rank  int     `json:"rank"`
	ID    int     `json:"id"`
	Token string  `json:"token"`
	P     float64 `json:"p"`
}

// Baseline is a started analysis: the two unpatched runs.
type Baseline struct {
	CleanTokens     []analysis.Token `json:"clean_tokens"`
	CorruptedTokens []analysis.Token `json:"corrupted_tokens"`
	// Warnings are likely mistakes the runs show (a target the model
	// hardly expects).
	Warnings []analysis.Warning `json:"warnings"`
	// PositionLabels name the positions as the CLI's figures and CSV do.
	PositionLabels    []string `json:"position_labels"`
	CleanTargetID     int      `json:"clean_target_id"`
	CorruptedTargetID int      `json:"corrupted_target_id"`
	CleanTop          []Top    `json:"clean_top"`
	CorruptedTop      []Top    `json:"corrupted_top"`
	// CleanBase and CorruptedBase are the unpatched runs as cells:
	// [clean target logit, corrupted target logit, log-sum-exp].
	CleanBase     [3]float64  `json:"clean_base"`
	CorruptedBase [3]float64  `json:"corrupted_base"`
	Config        gpt2.Config `json:"config"`
}

// ErrNoModel is returned by calls that need weights before any loaded.
var ErrNoModel = errors.New("no model is loaded yet")

// MaxPageTokens bounds the texts the page sweeps: each worker keeps both
// runs' activations (224 kB a token for GPT-2 small) beside the weights
// within its few hundred MB; the command line has no such limit.
const MaxPageTokens = 256

// tooLongForPage refuses a pair of n tokens each when n > MaxPageTokens.
func tooLongForPage(n int) *analysis.InputError {
	if n <= MaxPageTokens {
		return nil
	}
	return &analysis.InputError{Field: "clean", Reason: "too_long", FirstDiff: -1,
		Msg: fmt.Sprintf("the texts have %d tokens; the page sweeps up to %d (every worker keeps both runs in memory): shorten them, or use the command line (patchlab sweep) for longer texts", n, MaxPageTokens)}
}

// Start checks the request and runs both texts, unless the analysis of the
// same request is already there.
func (e *Engine) Start(req analysis.Request) (*Baseline, error) {
	if e.model == nil {
		return nil, ErrNoModel
	}
	if e.an == nil || e.an.Request != req {
		if a, err := analysis.Check(e.tok, e.model.Config, req); err == nil {
			if ie := tooLongForPage(len(a.CleanTokens)); ie != nil {
				return nil, ie
			}
		}
		a, err := analysis.New(e.model, e.tok, req)
		if err != nil {
			return nil, err
		}
		e.an = a
	}
	return e.baseline(), nil
}

// baseline is the started analysis's Baseline.
func (e *Engine) baseline() *Baseline {
	a, s := e.an, e.an.Session
	return &Baseline{
		CleanTokens: a.CleanTokens, CorruptedTokens: a.CorruptedTokens,
		PositionLabels: analysis.PositionLabels(a.CleanTokens, a.CorruptedTokens), Warnings: a.RunWarnings(),
		CleanTargetID: a.CleanTargetID, CorruptedTargetID: a.CorruptedTargetID,
		CleanTop: e.tops(a.CleanTop), CorruptedTop: e.tops(a.CorruptedTop),
		CleanBase: cell3(s.CleanBase), CorruptedBase: cell3(s.CorruptedBase),
		Config: e.model.Config,
	}
}

func (e *Engine) tops(ps []patch.Prob) []Top {
	out := make([]Top, len(ps))
	for i, p := range ps {
		out[i] = Top{Rank: i + 1, ID: p.ID, Token: e.tok.DecodeToken(p.ID), P: p.P}
	}
	return out
}

func cell3(c patch.Cell) [3]float64 { return [3]float64{float64(c.Clean), float64(c.Corrupted), c.LSE} }

// Forget drops the started analysis, so that the next Start runs both
// texts again (benchmarks time it).
func (e *Engine) Forget() { e.an, e.half = nil, nil }

// Sweep patches the given rows of a site of the started analysis, in order,
// in direction dir ("denoise" or "noise"), calling onRow with each row's
// cells as it finishes.
func (e *Engine) Sweep(ctx context.Context, site string, dir string, probs bool, rows []int, onRow func(r int, cells []patch.Cell)) error {
	if e.an == nil {
		return errors.New("no analysis is started")
	}
	s, err := patch.ParseSite(site)
	if err != nil {
		return err
	}
	d, err := patch.ParseDirection(dir)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	sess := e.an.Session
	_, cols := sess.Shape(s)
	row := make([]patch.Cell, cols)
	_, err = sess.Sweep(ctx, s, patch.Options{Probs: probs, Rows: rows, Direction: d}, func(r, c int, cell patch.Cell) {
		row[c] = cell
		if c == cols-1 {
			onRow(r, row)
		}
	})
	return err
}

// SiteCells is a finished sweep as the page keeps it.
type SiteCells struct {
	Site      string
	Direction string       // denoise (or empty) or noise
	Cells     []patch.Cell // rows × cols, row-major
}

// Record builds the JSON export (analysis.Record, the CLI's field names)
// of the started analysis from the sweeps the page has finished.
func (e *Engine) Record(sweeps []SiteCells, metric string) ([]byte, error) {
	if e.an == nil {
		return nil, errors.New("no analysis is started")
	}
	m, err := patch.ParseMetric(metric)
	if err != nil {
		return nil, err
	}
	var mxs []*patch.Matrix
	for _, sc := range sweeps {
		s, err := patch.ParseSite(sc.Site)
		if err != nil {
			return nil, err
		}
		d := patch.Denoise
		if sc.Direction != "" {
			if d, err = patch.ParseDirection(sc.Direction); err != nil {
				return nil, err
			}
		}
		rows, cols := e.an.Session.Shape(s)
		if len(sc.Cells) != rows*cols {
			return nil, fmt.Errorf("%s: %d cells, want %d×%d", sc.Site, len(sc.Cells), rows, cols)
		}
		mxs = append(mxs, &patch.Matrix{Site: s, Direction: d, Rows: rows, Cols: cols, Cells: sc.Cells})
	}
	slices.SortStableFunc(mxs, func(a, b *patch.Matrix) int { return int(a.Site.Kind) - int(b.Site.Kind) })
	rec, err := e.an.Record(e.tok, mxs, m)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(rec, "", " ")
}

// The page receives cells as little-endian float64 triples
// (clean target logit, corrupted target logit, log-sum-exp or NaN).

// EncodeCells packs cells for the page.
func EncodeCells(cells []patch.Cell) []byte {
	b := make([]byte, 0, 24*len(cells))
	for _, c := range cells {
		for _, v := range cell3(c) {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b
}

// DecodeCells unpacks cells from the page.
func DecodeCells(b []byte) ([]patch.Cell, error) {
	if len(b)%24 != 0 {
		return nil, fmt.Errorf("cells: %d bytes is not a whole number of cells", len(b))
	}
	cells := make([]patch.Cell, len(b)/24)
	for i := range cells {
		f := func(k int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[24*i+8*k:])) }
		cells[i] = patch.Cell{Clean: float32(f(0)), Corrupted: float32(f(1)), LSE: f(2)}
	}
	return cells, nil
}
