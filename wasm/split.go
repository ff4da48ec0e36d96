package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/patch"
)

// Two workers start an analysis faster than one: each runs one of the two
// texts (StartHalf) and hands the other its run as bytes (Join). The runs
// are the same bits a worker computes itself (one build, one model), so
// the session, and every sweep of it, is that of Start.

// half is the run StartHalf did, waiting for the other one.
type half struct {
	req   analysis.Request
	a     *analysis.Analysis
	clean bool
	run   patch.Run
}

// StartHalf checks req and runs one of its texts, "clean" or "corrupted",
// keeping the run for Join; it returns the run as bytes for the worker
// running the other text. With req started already it runs nothing: the
// bytes are those of the run it holds, and Join changes nothing.
func (e *Engine) StartHalf(req analysis.Request, which string) ([]byte, error) {
	if e.model == nil {
		return nil, ErrNoModel
	}
	if which != "clean" && which != "corrupted" {
		return nil, fmt.Errorf("unknown run %q", which)
	}
	e.half = nil
	if e.an != nil && e.an.Request == req {
		s := e.an.Session
		if which == "clean" {
			return encodeRun(patch.Run{Logits: s.CleanLogits, Trace: s.Clean}), nil
		}
		return encodeRun(patch.Run{Logits: s.CorruptedLogits, Trace: s.Corrupted}), nil
	}
	a, err := analysis.Check(e.tok, e.model.Config, req)
	if err != nil {
		return nil, err
	}
	if ie := tooLongForPage(len(a.CleanTokens)); ie != nil {
		return nil, ie
	}
	toks := a.CleanTokens
	if which == "corrupted" {
		toks = a.CorruptedTokens
	}
	ids := make([]int, len(toks))
	for i, t := range toks {
		ids[i] = t.ID
	}
	logits, tr, err := e.model.Forward(ids, nil, true)
	if err != nil {
		return nil, fmt.Errorf("%s text: %w", which, err)
	}
	e.an = nil
	e.half = &half{req: req, a: a, clean: which == "clean", run: patch.Run{Logits: logits, Trace: tr}}
	return encodeRun(e.half.run), nil
}

// Join completes the analysis StartHalf began with the other text's run
// (its bytes), as Start would have.
func (e *Engine) Join(req analysis.Request, other []byte) (*Baseline, error) {
	if e.model == nil {
		return nil, ErrNoModel
	}
	if e.an != nil && e.an.Request == req {
		return e.baseline(), nil
	}
	h := e.half
	if h == nil || h.req != req {
		return nil, errors.New("join: the texts were not started")
	}
	e.half = nil
	a, cfg := h.a, e.model.Config
	theirs, err := decodeRun(other, cfg, len(a.CleanTokens))
	if err != nil {
		return nil, err
	}
	clean, corrupted := h.run, theirs
	if !h.clean {
		clean, corrupted = theirs, h.run
	}
	s, err := patch.SessionOf(e.model, tokenIDs(a.CleanTokens), tokenIDs(a.CorruptedTokens), a.CleanTargetID, a.CorruptedTargetID, clean, corrupted)
	if err != nil {
		return nil, err
	}
	a.Session = s
	a.CleanTop = patch.Top(s.CleanLogits, analysis.TopK)
	a.CorruptedTop = patch.Top(s.CorruptedLogits, analysis.TopK)
	e.an = a
	return e.baseline(), nil
}

func tokenIDs(ts []analysis.Token) []int {
	out := make([]int, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// runSlices lists a run's arrays in the order of its bytes.
func runSlices(r patch.Run) [][]float32 {
	tr := r.Trace
	out := [][]float32{r.Logits, tr.Embed}
	for _, layers := range [][][]float32{tr.Resid, tr.AttnOut, tr.MLPOut, tr.Z, tr.Q, tr.K, tr.V, tr.Hidden} {
		out = append(out, layers...)
	}
	return out
}

// encodeRun is a run as bytes: its token count, then every array's
// float32s, little-endian.
func encodeRun(r patch.Run) []byte {
	n := 0
	for _, a := range runSlices(r) {
		n += len(a)
	}
	b := make([]byte, 4, 4+4*n)
	binary.LittleEndian.PutUint32(b, uint32(r.Trace.T))
	for _, a := range runSlices(r) {
		b = append(b, floatBytes(a)...)
	}
	return b
}

// decodeRun reads encodeRun's bytes of a run of t tokens of a model of cfg.
func decodeRun(b []byte, cfg gpt2.Config, t int) (patch.Run, error) {
	bad := fmt.Errorf("join: the other worker's run is not one of %d tokens", t)
	if len(b) < 4 || int(binary.LittleEndian.Uint32(b)) != t {
		return patch.Run{}, bad
	}
	L, C := cfg.Layers, cfg.Width
	tr := &gpt2.Trace{T: t, Sites: gpt2.Sites{Embed: make([]float32, t*C)}}
	for _, p := range []*[][]float32{&tr.Resid, &tr.AttnOut, &tr.MLPOut, &tr.Z, &tr.Q, &tr.K, &tr.V} {
		*p = make([][]float32, L)
		for l := range *p {
			(*p)[l] = make([]float32, t*C)
		}
	}
	if t <= gpt2.HiddenMaxT {
		tr.Hidden = make([][]float32, L)
		for l := range tr.Hidden {
			tr.Hidden[l] = make([]float32, t*4*C)
		}
	}
	r := patch.Run{Logits: make([]float32, cfg.Vocab), Trace: tr}
	b = b[4:]
	for _, a := range runSlices(r) {
		if len(b) < 4*len(a) {
			return patch.Run{}, bad
		}
		b = b[copy(floatBytes(a), b):]
	}
	if len(b) != 0 {
		return patch.Run{}, bad
	}
	return r, nil
}

// floatBytes is a's memory as bytes: little-endian float32s on every
// platform Go runs patchlab on (wasm, amd64, arm64), which init checks.
func floatBytes(a []float32) []byte {
	if len(a) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a))
}

func init() {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		panic("patchlab: a big-endian platform: the runs' bytes (split.go) assume little-endian")
	}
}
