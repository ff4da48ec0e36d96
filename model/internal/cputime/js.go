//go:build js && wasm

package cputime

import (
	"syscall/js"
	"time"
)

// Used is the user time of the JavaScript process under Node (0 in a
// browser, which does not tell).
func Used() time.Duration {
	p := js.Global().Get("process")
	if p.IsUndefined() || p.Get("cpuUsage").IsUndefined() {
		return 0
	}
	return time.Duration(p.Call("cpuUsage").Get("user").Float()) * time.Microsecond
}
