//go:build ignore

// asm_gen writes the amd64 micro-kernels (kernel_avx512_amd64.s,
// kernel_avx2_amd64.s) and their Go declarations (kernel_decl_amd64.go).
// Run it with `go generate` in this directory.
//
// Every kernel computes a block of mr×nr dot products, mr input rows (x, at a
// fixed byte stride) by nr weight rows (given by pointer, so MulTRows can use
// arbitrary rows), and writes them to y[i*ys + j]. The block shape never
// changes what one dot product computes: each (x row, weight row) pair owns
// one vector accumulator of L lanes (L = 16 for AVX-512, 8 for AVX2) and runs
//
//	acc = 0
//	for each chunk c of L columns (the last one zero-padded by a masked load):
//		acc = fma(x[c], w[c], acc)          // lane by lane, one rounding
//	r = tree(acc)                              // fixed pairwise tree
//
// where tree(v) of L lanes is tree(v[l] + v[l+L/2], l < L/2) and tree of one
// lane is that lane. The nr = 4 kernels reduce four accumulators at once with
// shuffles, but every addition has the same two operands as in the one-at-a-
// time reduction of the nr = 1 kernels, so all kernels agree bit for bit.
//
// The F32 nr = 4 kernels can also run over one column panel of a long row:
// with flags&1 they start from the accumulators saved in acc instead of
// zero, with flags&2 they save them there instead of reducing. The driver
// cuts panels at multiples of L columns, so each accumulator still sees the
// same FMAs in the same order; only the last panel has a tail.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
	"strings"
)

type isa struct {
	name  string // suffix of the kernel names: 512 or 256
	lanes int    // float32 lanes per vector
	reg   string // vector register prefix: Z or Y
	mrMax int    // largest block of input rows
}

var (
	avx512 = isa{name: "512", lanes: 16, reg: "Z", mrMax: 6}
	avx2   = isa{name: "256", lanes: 8, reg: "Y", mrMax: 2}
)

type gen struct {
	bytes.Buffer
	isa
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.Buffer, "\t"+format+"\n", args...)
}

func (g *gen) label(l string) { fmt.Fprintf(&g.Buffer, "%s:\n", l) }

func (g *gen) v(i int) string { return fmt.Sprintf("%s%d", g.reg, i) }

// xaddr is the address of input row i: rows 0-2 hang off SI, rows 3-5 off
// DI = SI + 3·DX, both advanced as the loop goes.
func xaddr(i int) string {
	base := "SI"
	if i >= 3 {
		base, i = "DI", i-3
	}
	switch i {
	case 0:
		return fmt.Sprintf("(%s)", base)
	case 1:
		return fmt.Sprintf("(%s)(DX*1)", base)
	default:
		return fmt.Sprintf("(%s)(DX*2)", base)
	}
}

// Register plan. AVX-512: accumulators Z0..Z23 (acc(i,j) = Z(i*nr+j)),
// weight chunks Z24..Z27, input chunk Z28. AVX2: accumulators Y0..Y7,
// weights Y8..Y11, input Y12, tail mask Y13.
func (g *gen) acc(i, j, nr int) string { return g.v(i*nr + j) }
func (g *gen) wreg(j int) string {
	if g.lanes == 16 {
		return g.v(24 + j)
	}
	return g.v(8 + j)
}
func (g *gen) xreg() string {
	if g.lanes == 16 {
		return g.v(28)
	}
	return g.v(12)
}

var wptr = []string{"R8", "R9", "R10", "R11"}

func (g *gen) prologue(mr int) {
	g.p("MOVQ x+0(FP), SI")
	g.p("MOVQ xs+8(FP), DX")
	if mr > 3 {
		g.p("LEAQ (SI)(DX*2), DI")
		g.p("ADDQ DX, DI")
	}
}

func (g *gen) zero(mr, nr int) {
	for i := 0; i < mr*nr; i++ {
		if g.lanes == 16 {
			g.p("VPXORD %s, %s, %s", g.v(i), g.v(i), g.v(i))
		} else {
			g.p("VXORPS %s, %s, %s", g.v(i), g.v(i), g.v(i))
		}
	}
}

// fmas multiplies the weight chunks already in wreg(0..nr-1) by input chunk
// (loaded from xaddr(i), or masked when tail) into the accumulators.
func (g *gen) fmas(mr, nr int, tail bool) {
	for i := 0; i < mr; i++ {
		g.load(xaddr(i), g.xreg(), tail)
		for j := 0; j < nr; j++ {
			g.p("VFMADD231PS %s, %s, %s", g.wreg(j), g.xreg(), g.acc(i, j, nr))
		}
	}
}

func (g *gen) load(addr, dst string, tail bool) {
	switch {
	case !tail:
		g.p("VMOVUPS %s, %s", addr, dst)
	case g.lanes == 16:
		g.p("VMOVUPS.Z %s, K1, %s", addr, dst)
	default:
		g.p("VMASKMOVPS %s, Y13, %s", addr, dst)
	}
}

func (g *gen) advance(mr, bytes int) {
	g.p("ADDQ $%d, SI", bytes)
	if mr > 3 {
		g.p("ADDQ $%d, DI", bytes)
	}
}

// f32 writes the F32 kernel for an mr×nr block.
func (g *gen) f32(mr, nr int) {
	name := fmt.Sprintf("f32k%s_%dx%d", g.name, mr, nr)
	var args string
	var frame, kOff, yOff int
	if nr == 4 {
		args = "x *float32, xs uintptr, w0, w1, w2, w3 *float32, k int, y *float32, ys uintptr, acc *float32, flags int"
		frame, kOff, yOff = 88, 48, 56
	} else {
		args = "x *float32, xs uintptr, w0 *float32, k int, y *float32, ys uintptr"
		frame, kOff, yOff = 48, 24, 32
	}
	decl(name, args)
	fmt.Fprintf(&g.Buffer, "\n// func %s(%s)\nTEXT ·%s(SB), NOSPLIT, $0-%d\n", name, args, name, frame)
	g.prologue(mr)
	for j := 0; j < nr; j++ {
		g.p("MOVQ w%d+%d(FP), %s", j, 16+8*j, wptr[j])
	}
	g.p("MOVQ k+%d(FP), BX", kOff)
	g.p("XORQ AX, AX")
	if nr == 4 {
		// flags&accIn: resume the accumulators saved in acc by the
		// previous column panel instead of starting from zero.
		g.p("MOVQ flags+80(FP), R12")
		g.p("TESTQ $1, R12")
		g.p("JZ zero")
		g.p("MOVQ acc+72(FP), R13")
		for i := 0; i < mr*nr; i++ {
			g.p("VMOVUPS %d(R13), %s", i*4*g.lanes, g.v(i))
		}
		g.p("JMP start")
		g.label("zero")
	}
	g.zero(mr, nr)
	g.label("start")
	L := g.lanes
	shift := map[int]int{8: 3, 16: 4}[L]
	g.p("MOVQ BX, CX")
	g.p("SHRQ $%d, CX", shift)
	g.p("JZ tail")
	g.label("loop")
	for j := 0; j < nr; j++ {
		g.p("VMOVUPS (%s)(AX*1), %s", wptr[j], g.wreg(j))
	}
	g.fmas(mr, nr, false)
	g.p("ADDQ $%d, AX", 4*L)
	g.advance(mr, 4*L)
	g.p("DECQ CX")
	g.p("JNZ loop")
	g.label("tail")
	g.p("ANDQ $%d, BX", L-1)
	g.p("JZ reduce")
	if L == 16 {
		g.p("MOVQ BX, CX")
		g.p("MOVL $1, R12")
		g.p("SHLL CX, R12")
		g.p("DECL R12")
		g.p("KMOVW R12, K1")
	} else {
		g.p("LEAQ tailmask<>+32(SB), R12")
		g.p("SHLQ $2, BX")
		g.p("SUBQ BX, R12")
		g.p("VMOVDQU (R12), Y13")
	}
	for j := 0; j < nr; j++ {
		g.load(fmt.Sprintf("(%s)(AX*1)", wptr[j]), g.wreg(j), true)
	}
	g.fmas(mr, nr, true)
	g.label("reduce")
	if nr == 4 {
		// flags&accOut: more panels follow; save the accumulators as they
		// are for the next call instead of reducing them.
		g.p("MOVQ flags+80(FP), R12")
		g.p("TESTQ $2, R12")
		g.p("JZ finish")
		g.p("MOVQ acc+72(FP), R13")
		for i := 0; i < mr*nr; i++ {
			g.p("VMOVUPS %s, %d(R13)", g.v(i), i*4*g.lanes)
		}
		g.p("VZEROUPPER")
		g.p("RET")
		g.label("finish")
	}
	g.reduce(mr, nr, yOff)
}

// reduce sums the lanes of every accumulator with the fixed tree and stores
// the results: y row i at R12 + i·R13.
func (g *gen) reduce(mr, nr, yOff int) {
	g.p("MOVQ y+%d(FP), R12", yOff)
	g.p("MOVQ ys+%d(FP), R13", yOff+8)
	if nr == 4 && g.lanes == 16 {
		g.p("VMOVDQU32 permidx<>(SB), Z31")
	}
	for i := 0; i < mr; i++ {
		if nr == 1 {
			g.reduce1(g.acc(i, 0, 1))
		} else if g.lanes == 16 {
			g.reduce4z(i)
		} else {
			g.reduce4y(i)
		}
		if i+1 < mr {
			g.p("ADDQ R13, R12")
		}
	}
	g.p("VZEROUPPER")
	g.p("RET")
}

// reduce1 reduces one accumulator: halves added lane by lane down to one.
func (g *gen) reduce1(a string) {
	n := a[1:]
	x, y := "X"+n, "Y"+n
	t := "8"
	if g.lanes == 16 {
		t = "24"
	}
	if g.lanes == 16 {
		g.p("VEXTRACTF64X4 $1, %s, Y%s", a, t)
		g.p("VADDPS Y%s, %s, %s", t, y, y)
		g.p("VEXTRACTF32X4 $1, %s, X%s", y, t)
	} else {
		g.p("VEXTRACTF128 $1, %s, X%s", y, t)
	}
	g.p("VADDPS X%s, %s, %s", t, x, x)
	g.p("VSHUFPS $0x4e, %s, %s, X%s", x, x, t)
	g.p("VADDPS X%s, %s, %s", t, x, x)
	g.p("VSHUFPS $0xb1, %s, %s, X%s", x, x, t)
	g.p("VADDPS X%s, %s, %s", t, x, x)
	g.p("VMOVSS %s, (R12)", x)
}

// reduce4z reduces the four accumulators A, B, C, D of input row i (AVX-512)
// and stores them to y[i][0:4]. Temporaries Z24..Z29.
func (g *gen) reduce4z(i int) {
	a, b, c, d := g.acc(i, 0, 4), g.acc(i, 1, 4), g.acc(i, 2, 4), g.acc(i, 3, 4)
	// 16 → 8: Z24 = [A[0:8]+A[8:16], B[0:8]+B[8:16]], Z26 likewise for C, D.
	g.p("VSHUFF32X4 $0x44, %s, %s, Z24", b, a)
	g.p("VSHUFF32X4 $0xee, %s, %s, Z25", b, a)
	g.p("VADDPS Z25, Z24, Z24")
	g.p("VSHUFF32X4 $0x44, %s, %s, Z26", d, c)
	g.p("VSHUFF32X4 $0xee, %s, %s, Z27", d, c)
	g.p("VADDPS Z27, Z26, Z26")
	// 8 → 4: 128-bit lane q of Z28 holds the 4-lane partial of A, B, C, D.
	g.p("VSHUFF32X4 $0x88, Z26, Z24, Z28")
	g.p("VSHUFF32X4 $0xdd, Z26, Z24, Z29")
	g.p("VADDPS Z29, Z28, Z28")
	// 4 → 2 → 1 within each 128-bit lane; results in lanes 0, 4, 8, 12.
	g.p("VSHUFPS $0x4e, Z28, Z28, Z29")
	g.p("VADDPS Z29, Z28, Z28")
	g.p("VSHUFPS $0xb1, Z28, Z28, Z29")
	g.p("VADDPS Z29, Z28, Z28")
	g.p("VPERMPS Z28, Z31, Z28")
	g.p("VMOVUPS X28, (R12)")
}

// reduce4y reduces the four accumulators A, B, C, D of input row i (AVX2)
// and stores them to y[i][0:4]. Temporaries Y8..Y13.
func (g *gen) reduce4y(i int) {
	a, b, c, d := g.acc(i, 0, 4), g.acc(i, 1, 4), g.acc(i, 2, 4), g.acc(i, 3, 4)
	// 8 → 4: Y8 = [A[0:4]+A[4:8], B[0:4]+B[4:8]], Y10 likewise for C, D.
	g.p("VPERM2F128 $0x20, %s, %s, Y8", b, a)
	g.p("VPERM2F128 $0x31, %s, %s, Y9", b, a)
	g.p("VADDPS Y9, Y8, Y8")
	g.p("VPERM2F128 $0x20, %s, %s, Y10", d, c)
	g.p("VPERM2F128 $0x31, %s, %s, Y11", d, c)
	g.p("VADDPS Y11, Y10, Y10")
	// 4 → 2: Y12 = [A2 A2 C2 C2 | B2 B2 D2 D2].
	g.p("VSHUFPS $0x44, Y10, Y8, Y12")
	g.p("VSHUFPS $0xee, Y10, Y8, Y13")
	g.p("VADDPS Y13, Y12, Y12")
	// 2 → 1: Y8 = [A C A C | B D B D], then interleave to [A B C D].
	g.p("VSHUFPS $0x88, Y12, Y12, Y8")
	g.p("VSHUFPS $0xdd, Y12, Y12, Y9")
	g.p("VADDPS Y9, Y8, Y8")
	g.p("VEXTRACTF128 $1, Y8, X9")
	g.p("VUNPCKLPS X9, X8, X8")
	g.p("VMOVUPS X8, (R12)")
}

var decls bytes.Buffer

func decl(name, args string) {
	fmt.Fprintf(&decls, "\n//go:noescape\nfunc %s(%s)\n", name, args)
}

const header = "// Code generated by asm_gen.go; DO NOT EDIT.\n\n"

func main() {
	write := func(file string, is isa, data string) {
		g := &gen{isa: is}
		g.WriteString(header + "//go:build !purego\n\n#include \"textflag.h\"\n")
		g.WriteString(data)
		for mr := 1; mr <= is.mrMax; mr++ {
			g.f32(mr, 4)
		}
		g.f32(1, 1)
		if err := os.WriteFile(file, g.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	var perm strings.Builder
	perm.WriteString("\n// permidx gathers lanes 0, 4, 8, 12 to the front.\n")
	for l := 0; l < 16; l++ {
		fmt.Fprintf(&perm, "DATA permidx<>+%d(SB)/4, $%d\n", 4*l, (4*l)%16)
	}
	perm.WriteString("GLOBL permidx<>(SB), RODATA|NOPTR, $64\n")
	var mask strings.Builder
	mask.WriteString("\n// tailmask+32-4t is a VMASKMOVPS mask selecting the first t lanes.\n")
	for l := 0; l < 16; l++ {
		v := "0xffffffff"
		if l >= 8 {
			v = "0"
		}
		fmt.Fprintf(&mask, "DATA tailmask<>+%d(SB)/4, $%s\n", 4*l, v)
	}
	mask.WriteString("GLOBL tailmask<>(SB), RODATA|NOPTR, $64\n")
	write("kernel_avx512_amd64.s", avx512, perm.String())
	write("kernel_avx2_amd64.s", avx2, mask.String())

	src := header + "//go:build !purego\n\npackage tensor\n" + decls.String()
	out, err := format.Source([]byte(src))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("kernel_decl_amd64.go", out, 0o644); err != nil {
		log.Fatal(err)
	}
}
