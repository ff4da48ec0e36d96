//go:build js && wasm

package main

import (
	"encoding/json"
	"syscall/js"
)

// reportKit([{site, cells: Uint8Array}], kitRequestJSON, [{name, bytes: Uint8Array}])
// → Promise<Uint8Array>: the report kit of the started analysis as a zip
// archive (report.go), with the figures the page drew.
func reportKit(_ js.Value, args []js.Value) any {
	in := make([]struct {
		site  string
		cells []byte
	}, args[0].Length())
	for i := range in {
		v := args[0].Index(i)
		in[i].site, in[i].cells = v.Get("site").String(), bytesOf(v.Get("cells"))
	}
	text := args[1].String()
	figures := make([]KitFile, args[2].Length())
	for i := range figures {
		v := args[2].Index(i)
		figures[i] = KitFile{Name: v.Get("name").String(), Data: bytesOf(v.Get("bytes"))}
	}
	return promise(KindInternal, func() (any, error) {
		var req KitRequest
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			return nil, err
		}
		var sweeps []SiteCells
		for _, s := range in {
			cells, err := DecodeCells(s.cells)
			if err != nil {
				return nil, err
			}
			sweeps = append(sweeps, SiteCells{Site: s.site, Cells: cells})
		}
		zip, err := engine.ReportKit(sweeps, req, figures)
		if err != nil {
			return nil, err
		}
		u := js.Global().Get("Uint8Array").New(len(zip))
		js.CopyBytesToJS(u, zip)
		return u, nil
	})
}
