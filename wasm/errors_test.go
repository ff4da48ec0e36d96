package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/patch"
)

// TestClassify runs the engine into each kind of failure it reports and
// checks the error the page would receive: its kind, a message without
// package names, and for an invalid request the InputError's fields as
// its detail (as JSON, which is how they reach the page).
func TestClassify(t *testing.T) {
	e := NewEngine()
	_, err := e.Start(michelle)
	if w := Classify(err, KindInternal); w.Kind != KindNoModel || w.Message != ErrNoModel.Error() || w.Detail != nil {
		t.Errorf("no model: %+v", w)
	}

	e = tinyEngine(t)
	bad := michelle
	bad.Corrupted = "Michelle Richardson-Smith was a top-notch student. Michelle"
	_, err = e.Start(bad)
	w := Classify(err, KindInternal)
	if w.Kind != KindInput {
		t.Fatalf("invalid request: %+v", w)
	}
	b, _ := json.Marshal(w)
	var got struct {
		Kind, Message string
		Detail        struct {
			Field, Reason, Message string
			FirstDiff              int              `json:"first_diff"`
			CleanTokens            []analysis.Token `json:"clean_tokens"`
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Detail.Reason != "count_mismatch" || got.Detail.Message != got.Message || got.Detail.FirstDiff != 1 || len(got.Detail.CleanTokens) != 11 || strings.Contains(got.Message, "{") {
		t.Errorf("invalid request: %s", b)
	}

	if _, err := e.Start(michelle); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = e.Sweep(ctx, "resid_post", "denoise", false, []int{0}, func(int, []patch.Cell) {})
	if w := Classify(err, KindInternal); w.Kind != KindCancelled {
		t.Errorf("cancelled sweep: %+v", w)
	}
	err = e.Sweep(context.Background(), "nowhere", "denoise", false, []int{0}, func(int, []patch.Cell) {})
	if w := Classify(err, KindInternal); w.Kind != KindInternal || w.Message != err.Error() {
		t.Errorf("unknown site: %+v", w)
	}

	// Weights: the message loses the package's name, keeps the file's.
	page := []byte("<!doctype html>")
	_, err = NewEngine().LoadSafetensors(bytes.NewReader(page), int64(len(page)), "page.safetensors", nil)
	w = Classify(err, KindBadWeights)
	if w.Kind != KindBadWeights || !strings.HasPrefix(w.Message, "page.safetensors") {
		t.Errorf("an HTML page as weights: %+v (from %q)", w, err)
	}
	_, err = NewEngine().LoadWeb([]byte(`{"format": "x"}`), func(string) ([]byte, error) { return nil, nil })
	if !strings.HasPrefix(err.Error(), "webfmt: ") {
		t.Fatalf("webfmt's error %q does not name its package: this test tests nothing", err)
	}
	if w := Classify(err, KindBadWeights); w.Kind != KindBadWeights || strings.HasPrefix(w.Message, "webfmt: ") {
		t.Errorf("a manifest of another format: %+v (from %q)", w, err)
	}
	// A WireError passes through unchanged.
	in := &WireError{Kind: KindCancelled, Message: "stopped"}
	if w := Classify(in, KindBadWeights); w != in {
		t.Errorf("a WireError became %+v", w)
	}
}
