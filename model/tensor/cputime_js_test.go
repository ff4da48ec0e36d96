//go:build js && wasm

package tensor

import (
	"syscall/js"
	"time"
)

// cpuTime is the user CPU time of the JavaScript process (Node): benchmarks
// report GFLOP/s per CPU second too, which a busy machine disturbs less than
// wall time.
func cpuTime() time.Duration {
	p := js.Global().Get("process")
	if p.IsUndefined() {
		return 0
	}
	return time.Duration(p.Call("cpuUsage").Get("user").Float()) * time.Microsecond
}
