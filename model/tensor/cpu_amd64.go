//go:build !purego

package tensor

// The kernels in use are chosen once, from what the CPU and the OS support.
// Tests switch them to exercise every path; nothing else should.
var (
	useAVX512 bool // AVX-512 F+VL kernels, 16 lanes
	useAVX2   bool // AVX2+FMA kernels, 8 lanes
)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

func init() { useAVX2, useAVX512 = detectCPU() }

func detectCPU() (avx2, avx512 bool) {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false, false
	}
	xcr0, _ := xgetbv()
	if xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false, false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	avx2 = ebx7&(1<<5) != 0
	const f, vl = 1 << 16, 1 << 31
	avx512 = avx2 && ebx7&(f|vl) == f|vl && xcr0&0xe0 == 0xe0 // opmask, ZMM state
	return avx2, avx512
}
