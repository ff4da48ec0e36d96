//go:build !purego

package tensor

import "testing"

// forEachPath runs f with each kernel set this CPU supports selected, and
// the portable kernels with every block shape.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	avx2, avx512, rows := useAVX2, useAVX512, goBlockRows
	defer func() { useAVX2, useAVX512, goBlockRows = avx2, avx512, rows }()
	paths := []struct {
		name         string
		ok           bool
		avx2, avx512 bool
		goRows       int
	}{
		{"avx512", avx512, true, true, rows},
		{"avx2", avx2, true, false, rows},
		{"go1x4", true, false, false, 1},
		{"go2x4", true, false, false, 2},
		{"go3x4", true, false, false, 3},
	}
	for _, p := range paths {
		if !p.ok {
			continue
		}
		useAVX2, useAVX512, goBlockRows = p.avx2, p.avx512, p.goRows
		t.Run(p.name, f)
	}
}
