//go:build unix && !(js && wasm)

package tensor

import (
	"syscall"
	"time"
)

// cpuTime is the process's user CPU time: benchmarks report GFLOP/s per
// CPU second too, which a busy machine disturbs less than wall time (with
// one thread; helpers that spin count too).
func cpuTime() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano())
}
