//go:build js && wasm && !goexperiment.simd

package tensor

import (
	"fmt"
	"testing"
)

// forEachPath runs f with the hand-written kernels in each block shape,
// then with the Go ones.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	asm, rows := useAsm, goBlockRows
	defer func() { useAsm, goBlockRows = asm, rows }()
	for _, r := range []int{1, 2} {
		useAsm, goBlockRows = true, r
		t.Run(fmt.Sprintf("asm%dx4", r), f)
	}
	useAsm = false
	for _, r := range []int{1, 2, 3} {
		goBlockRows = r
		t.Run(fmt.Sprintf("go%dx4", r), f)
	}
}
