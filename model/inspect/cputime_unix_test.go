//go:build unix

package inspect

import "syscall"

// cpuSeconds is the CPU time the process has used (user + system): the
// benchmarks report it beside the wall time, which a busy machine inflates.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
