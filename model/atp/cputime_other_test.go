//go:build !unix

package atp

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
