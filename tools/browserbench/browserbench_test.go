package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/patchlab/patchlab/tools/sitetest/drive"
)

// browserFlag is the engine flags name (-browser X), chromium by default.
func browserFlag(flags string) string {
	f := strings.Fields(flags)
	for i := range f {
		if f[i] == "-browser" && i+1 < len(f) {
			return f[i+1]
		}
		if v, ok := strings.CutPrefix(f[i], "-browser="); ok {
			return v
		}
	}
	return "chromium"
}

func TestTexts(t *testing.T) {
	for _, n := range []int{3, 11, 32} {
		if _, err := texts(n); err != nil {
			t.Error(err)
		}
	}
	if _, err := texts(2); err == nil {
		t.Error("2 tokens accepted")
	}
}

// TestBadFlags: a flag browserbench cannot honour stops it before it builds
// anything, with status 2 and one line saying what to change.
func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"-browser", "lynx"}, `-browser "lynx": want chromium, firefox, webkit`},
		{[]string{"-browser", "Firefox", "-bits", "12"}, `-browser "Firefox": want chromium, firefox, webkit`},
		{[]string{"-bits", "8"}, "-bits 8: want 9…16"},
		{[]string{"-bits", "17"}, "-bits 17: want 9…16"},
		{[]string{"-workers", "-1"}, "-workers -1"},
		{[]string{"-tokens", "2"}, "-tokens 2: want 3…1024"},
		{[]string{"-runs", "0"}, "-runs 0"},
		{[]string{"-frobnicate"}, "-frobnicate"},
		{[]string{"now"}, "takes no arguments"},
	} {
		var out, errs bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errs)
		if code != 2 || out.Len() != 0 || !strings.Contains(errs.String(), tc.says) || strings.Count(errs.String(), "\n") != 1 {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want 2 and one line saying %q", tc.args, code, out.String(), errs.String(), tc.says)
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &errs); code != 0 {
		t.Fatalf("-h: status %d, %q", code, errs.String())
	}
	for _, f := range []string{"-browser", "-workers", "-bits"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("-h does not show %s:\n%s", f, out.String())
		}
	}
}

// TestRun runs the benchmark through the command line (about 20 s on two
// cores); it only runs when PATCHLAB_BROWSERBENCH is set, with the flags in
// PATCHLAB_BROWSERBENCH_FLAGS, e.g.
//
//	PATCHLAB_BROWSERBENCH=1 PATCHLAB_BROWSERBENCH_FLAGS="-workers 2 -runs 1" go test ./tools/browserbench -run Run -v
func TestRun(t *testing.T) {
	if os.Getenv("PATCHLAB_BROWSERBENCH") == "" {
		t.Skip("set PATCHLAB_BROWSERBENCH=1 to run the browser benchmark")
	}
	if why := drive.Missing(browserFlag(os.Getenv("PATCHLAB_BROWSERBENCH_FLAGS"))); why != "" {
		t.Skip(why)
	}
	var out bytes.Buffer
	if code := run(context.Background(), strings.Fields(os.Getenv("PATCHLAB_BROWSERBENCH_FLAGS")), &out, os.Stderr); code != 0 {
		t.Fatalf("status %d", code)
	}
	t.Logf("%s", out.String())
	var res struct {
		Engine        string
		Tokens, Cells int
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("not one JSON line: %v", err)
	}
	if !strings.HasPrefix(res.Engine, "wasm-") || res.Cells != 12*res.Tokens {
		t.Errorf("engine %q, %d cells of %d tokens; want wasm-<browser>, 12 layers × tokens", res.Engine, res.Cells, res.Tokens)
	}
}
