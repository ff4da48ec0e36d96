package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/patchlab/patchlab/model/calib"
	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
	"github.com/patchlab/patchlab/model/webfmt"
)

// widthFlags are convert's and fetch's choice of code width.
type widthFlags struct {
	bits      bitsValue
	tolerance float64
}

func (w *widthFlags) register(f *flags) {
	f.Var(&w.bits, "bits", "the block matrices' code width, 9…16 (wte's is one less), or `auto`: the narrowest whose heatmaps on two calibration pairs stay within -tolerance of float32's")
	f.Float64Var(&w.tolerance, "tolerance", calib.Tolerance, "for -bits auto: the largest heatmap cell error allowed, as a `fraction` of the heatmap's range")
}

func (w *widthFlags) check() error {
	if err := calib.CheckTolerance(w.tolerance); err != nil {
		return inputf("-tolerance: %v", err)
	}
	return nil
}

// announce says what -bits auto is about to do, which takes a while
// before the first trial shows.
func (w *widthFlags) announce(out io.Writer) {
	if w.bits == calib.Auto {
		fmt.Fprintf(out, "calibration (-bits auto): loading the checkpoint in float32, then trying codes from %d bits up\n", webfmt.DefaultBits)
	}
}

// report prints a calibration trial and the decision it leads to.
func (w *widthFlags) report(out func(format string, args ...any)) func(calib.Trial) {
	return func(t calib.Trial) {
		verdict := "too coarse"
		switch {
		case t.Worst <= w.tolerance:
			verdict = "kept"
		case t.Bits == webfmt.MaxBits:
			verdict = "the widest: kept, though over the tolerance"
		}
		out("calibration: %v, limit %.2f%%: %s\n", t, 100*w.tolerance, verdict)
	}
}

// bitsValue is a code width, or calib.Auto.
type bitsValue int

func (b *bitsValue) String() string {
	if *b == calib.Auto {
		return "auto"
	}
	return strconv.Itoa(int(*b))
}

func (b *bitsValue) Set(s string) error {
	if s == "auto" {
		*b = calib.Auto
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || webfmt.CheckBits(n) != nil {
		return fmt.Errorf("want auto or %d…%d", webfmt.MinBits, webfmt.MaxBits)
	}
	*b = bitsValue(n)
	return nil
}

// withBits is the model as -bits asks: quantised in memory as the web
// format would with bits-bit codes (0: as loaded). A model in the web
// format already is refused: its codes cannot be widened.
func withBits(m *gpt2.Model, bits int) (*gpt2.Model, error) {
	if bits == 0 {
		return m, nil
	}
	if q, ok := m.Blocks[0].FC.(*tensor.QN); ok {
		return nil, inputf("-bits %d: the model is in the web format already, with %d-bit codes; -bits quantises a float32 model (a model.safetensors)", bits, q.Bits)
	}
	return webfmt.Quantize(m, bits), nil
}
