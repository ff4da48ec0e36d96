//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"syscall/js"

	"github.com/patchlab/patchlab/model/analysis"
)

// The attribution-patching calls (atp.go), registered in main_js.go.

// atpEstimates(requestJSON, topNeurons) → Promise<estimatesJSON>
func atpEstimates(_ js.Value, args []js.Value) any {
	text, top := args[0].String(), args[1].Int()
	return promise(KindInternal, func() (any, error) {
		req, err := requestOf(text)
		if err != nil {
			return nil, err
		}
		r, err := engine.ATP(req, top)
		if err != nil {
			return nil, err
		}
		return toJSON(r)
	})
}

// atpNeurons(requestJSON, topNeurons) → Promise<neuronsJSON>: with exact changes.
func atpNeurons(_ js.Value, args []js.Value) any {
	text, top := args[0].String(), args[1].Int()
	return promise(KindInternal, func() (any, error) {
		req, err := requestOf(text)
		if err != nil {
			return nil, err
		}
		r, err := engine.ATPNeurons(&yielding{Context: context.Background()}, req, top)
		if err != nil {
			return nil, err
		}
		return toJSON(r)
	})
}

// atpTop(requestJSON, site, k) → Promise<topJSON>: the k cells the estimate
// ranks highest and their rows.
func atpTop(_ js.Value, args []js.Value) any {
	text, site, k := args[0].String(), args[1].String(), args[2].Int()
	return promise(KindInternal, func() (any, error) {
		req, err := requestOf(text)
		if err != nil {
			return nil, err
		}
		r, err := engine.ATPTop(req, site, k)
		if err != nil {
			return nil, err
		}
		return toJSON(r)
	})
}

func requestOf(text string) (analysis.Request, error) {
	var req analysis.Request
	err := json.Unmarshal([]byte(text), &req)
	return req, err
}
