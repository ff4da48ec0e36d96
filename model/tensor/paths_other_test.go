//go:build (!amd64 || purego) && !wasm

package tensor

import (
	"fmt"
	"testing"
)

// forEachPath runs f with the portable kernels, with both block shapes.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	rows := goBlockRows
	defer func() { goBlockRows = rows }()
	for _, r := range []int{1, 2, 3} {
		goBlockRows = r
		t.Run(fmt.Sprintf("go%dx4", r), f)
	}
}
