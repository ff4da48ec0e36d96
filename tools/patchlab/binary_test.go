package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinary builds the command and checks its exit statuses as a process,
// including an interrupt.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "patchlab")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	status := func(cmd *exec.Cmd) int {
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"tokenize", michelle}, 0},
		{nil, 2},
		{[]string{"sweep", "-model", tinyModel}, 2},
		{[]string{"sweep", "-h"}, 0},
		{append(sweepArgs("-sites", "embed"), "-model", filepath.Join(t.TempDir(), "none")), 2},
	} {
		if got := status(exec.Command(bin, c.args...)); got != c.want {
			t.Errorf("patchlab %q: status %d, want %d", c.args, got, c.want)
		}
	}

	// SIGINT during a long job (bench builds GPT-2 small, then sweeps): 130,
	// with a message.
	cmd := exec.Command(bin, "bench", "-threads", "1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).ExitStatus() != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("interrupted bench: %v, stderr %q", err, stderr.String())
	}
}
