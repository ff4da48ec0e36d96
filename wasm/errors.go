package main

import (
	"context"
	"errors"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
)

// The kinds of error the engine reports to the page (site/PROTOCOL.md,
// "Errors"). The page adds its own: "worker_lost".
const (
	KindInput      = "input"       // the request is invalid; Detail is the *analysis.InputError
	KindNoModel    = "no_model"    // no model is loaded yet
	KindBadWeights = "bad_weights" // the weights or the checkpoint cannot be used
	KindCancelled  = "cancelled"   // the call was stopped
	KindInternal   = "internal"    // anything else: a fault of patchlab's own
)

// WireError is an error as the page receives it: main_js.go rejects a
// call's promise with it as a plain JavaScript object {kind, message,
// detail}, which site/ wraps in its EngineError. Message is one line a
// person can read.
type WireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Detail  any    `json:"detail"` // nil, or the kind's details (KindInput: analysis.InputError's fields)
}

func (e *WireError) Error() string { return e.Message }

// Classify makes the WireError of err. An *analysis.InputError, ErrNoModel
// and a cancelled context are recognised wherever they come from; any
// other error is of kind otherwise (the call knows what can fail in it:
// the weights, for a load).
func Classify(err error, otherwise string) *WireError {
	var we *WireError
	var ie *analysis.InputError
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &ie):
		return &WireError{Kind: KindInput, Message: ie.Msg, Detail: ie}
	case errors.Is(err, ErrNoModel):
		return &WireError{Kind: KindNoModel, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &WireError{Kind: KindCancelled, Message: err.Error()}
	}
	msg := err.Error()
	if otherwise == KindBadWeights {
		msg = withoutPackage(msg)
	}
	return &WireError{Kind: otherwise, Message: msg}
}

// withoutPackage drops the name of the package that made a message about
// weights ("webfmt: shard …"): it means nothing to a person.
func withoutPackage(msg string) string {
	for _, p := range []string{"webfmt: ", "weights: ", "safetensors: "} {
		if s, ok := strings.CutPrefix(msg, p); ok {
			return s
		}
	}
	return msg
}
