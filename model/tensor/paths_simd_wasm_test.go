//go:build js && wasm && goexperiment.simd

package tensor

import (
	"fmt"
	"testing"
)

// forEachPath runs f with the SIMD kernels in each block shape, then with
// the portable kernels.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	simd, srows, rows := useSIMD, simdBlockRows, goBlockRows
	defer func() { useSIMD, simdBlockRows, goBlockRows = simd, srows, rows }()
	for _, r := range []int{1, 2} {
		useSIMD, simdBlockRows = true, r
		t.Run(fmt.Sprintf("simd%dx4", r), f)
	}
	useSIMD = false
	for _, r := range []int{1, 2, 3} {
		goBlockRows = r
		t.Run(fmt.Sprintf("go%dx4", r), f)
	}
}
