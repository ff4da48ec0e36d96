//go:build !unix && !(js && wasm)

package cputime

import "time"

// Used is not measured on this system.
func Used() time.Duration { return 0 }
