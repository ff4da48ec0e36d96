package main

import (
	"encoding/json"
	"math"
	"testing"
)

// TestBench runs bench on the tiny shape and checks its JSON line,
// including the exact multiply-add count of the naive sweep.
func TestBench(t *testing.T) {
	for _, w := range []string{"f32", "q9", "q12"} {
		args := []string{"bench", "-config", "tiny", "-tokens", "4", "-naive", "-threads", "1"}
		switch w {
		case "q9":
			args = append(args, "-int8")
		case "q12":
			args = append(args, "-int8", "-bits", "12")
		}
		code, out, errs := patchlab(t, args...)
		if code != 0 {
			t.Fatalf("status %d: %s", code, errs)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if r.Engine != "native" || r.Weights != w || r.Cells != 16 || r.Tokens != 4 || r.Threads != 1 || r.Runs != 3 ||
			r.SweepSeconds <= 0 || r.ForwardSeconds <= 0 || r.GFLOP <= 0 || r.NaiveSeconds <= 0 {
			t.Errorf("%s", out)
		}
		if r.NaiveMaxAbsDiff == nil || *r.NaiveMaxAbsDiff > 1e-4 {
			t.Errorf("naive and batched sweeps differ by %v", r.NaiveMaxAbsDiff)
		}
		// Naive: the clean and corrupted runs (recorded: every row through
		// every block), then one hooked full run per cell.
		const L, C, T, V = 4, 64, 4, 50257
		full := L*12*C*C*T + V*C
		want := 2 * float64(2*full+L*T*full) / 1e9
		if math.Abs(r.NaiveGFLOP-want) > 1e-4 {
			t.Errorf("naive_gflop %v, want %v", r.NaiveGFLOP, want)
		}
		if r.GFLOP >= r.NaiveGFLOP {
			t.Errorf("the sweep did %v GFLOP, no fewer than the naive %v", r.GFLOP, r.NaiveGFLOP)
		}
	}
}
