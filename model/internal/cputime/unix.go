//go:build unix && !(js && wasm)

package cputime

import (
	"syscall"
	"time"
)

// Used is the user and system time of all the process's threads.
func Used() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
