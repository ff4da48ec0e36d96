package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCancelledSweepWritesNothing: an interrupted sweep exits 130 and
// leaves no output (and an existing file untouched).
func TestCancelledSweepWritesNothing(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "out.json")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, out, errs := patchlabCtx(t, ctx, sweepArgs("-json", old, "-png", filepath.Join(dir, "out.png"), "-csv", filepath.Join(dir, "out.csv"))...)
	if code != exitInterrupted || !strings.Contains(errs, "interrupted") {
		t.Errorf("status %d, stderr %q", code, errs)
	}
	if strings.Contains(out, "wrote") {
		t.Errorf("output %q", out)
	}
	if got := strings.Join(files(t, dir), " "); got != "out.json" {
		t.Errorf("files %q, want only the old out.json", got)
	}
	if b, _ := os.ReadFile(old); string(b) != "old" {
		t.Errorf("out.json changed to %q", b)
	}
}

// TestOutputsAtomic: a failing writer, an abort and a cancelled commit
// leave nothing behind; a commit renames every file into place.
func TestOutputsAtomic(t *testing.T) {
	dir := t.TempDir()
	var o outputs
	if err := o.add(filepath.Join(dir, "a.txt"), func(w io.Writer) error { _, err := io.WriteString(w, "a"); return err }); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("disk on fire")
	if err := o.add(filepath.Join(dir, "b.txt"), func(w io.Writer) error { io.WriteString(w, "half"); return fail }); !errors.Is(err, fail) {
		t.Errorf("add: %v, want the writer's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("commit: %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("left %q", got)
	}
	o = outputs{}
	if err := o.add(filepath.Join(dir, "sub", "c.txt"), func(w io.Writer) error { _, err := io.WriteString(w, "c"); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := o.commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sub", "c.txt")); err != nil || string(b) != "c" {
		t.Errorf("c.txt: %q %v", b, err)
	}
	if got := files(t, filepath.Join(dir, "sub")); len(got) != 1 {
		t.Errorf("sub holds %q", got)
	}
}

// device makes a character device like /dev/null (minor 3) or /dev/full
// (minor 7) in a temporary directory when running as root, so that a bug
// cannot replace the real one; otherwise it returns the real one.
func device(t *testing.T, name string, minor int) string {
	if os.Geteuid() != 0 {
		return "/dev/" + name
	}
	p := filepath.Join(t.TempDir(), name)
	if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, 1<<8|minor); err != nil {
		t.Skipf("mknod %s: %v", p, err)
	}
	return p
}

func isCharDevice(t *testing.T, p string) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil || st.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("%s is no longer a character device: %v %v", p, st.Mode(), err)
	}
	if got := files(t, filepath.Dir(p)); len(got) != 1 && filepath.Dir(p) != "/dev" {
		t.Errorf("%s holds %q, want only the device", filepath.Dir(p), got)
	}
}

// TestOutputToDevices: a device is written directly, never replaced: to a
// null device it succeeds; to a full one it exits 1 with one line, having
// committed none of the other outputs.
func TestOutputToDevices(t *testing.T) {
	null, full := device(t, "null", 3), device(t, "full", 7)
	code, _, errs := patchlab(t, sweepArgs("-sites", "embed", "-json", null)...)
	if code != 0 {
		t.Errorf("-json %s: status %d, %q", null, code, errs)
	}
	isCharDevice(t, null)

	dir := t.TempDir()
	code, out, errs := patchlab(t, sweepArgs("-sites", "embed", "-csv", filepath.Join(dir, "a.csv"), "-json", full)...)
	if code != exitInternal || !oneReport(errs, "could not write "+full) || strings.Contains(out, "wrote") {
		t.Errorf("-json %s: status %d, stdout %q, stderr %q", full, code, out, errs)
	}
	isCharDevice(t, full)
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("after a failed write to %s, %s holds %q", full, dir, got)
	}
}

// TestOutputThroughSymlink: a link is followed; the file it points to is
// replaced and the link stays.
func TestOutputThroughSymlink(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	target, link := filepath.Join(b, "real.json"), filepath.Join(a, "link.json")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := patchlab(t, sweepArgs("-sites", "embed", "-json", link)...); code != 0 {
		t.Fatalf("status %d, %q", code, errs)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", st.Mode(), err)
	}
	readJSON(t, target)
	if got := files(t, a); len(got) != 1 {
		t.Errorf("%s holds %q", a, got)
	}
	if got := files(t, b); len(got) != 1 {
		t.Errorf("%s holds %q", b, got)
	}
	// A dangling link is refused.
	os.Remove(target)
	if code, _, errs := patchlab(t, sweepArgs("-sites", "embed", "-json", link)...); code != exitInput || !strings.Contains(errs, "missing file") {
		t.Errorf("dangling link: status %d, %q", code, errs)
	}
}

// TestOutputsCheckedBeforeAnyCommit: a bad output path (a directory, a
// second output to the same file, even through a link) exits 2 before
// anything is written.
func TestOutputsCheckedBeforeAnyCommit(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(good, []byte("old"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-json", good, "-csv", dir}, "is a directory"},
		{[]string{"-json", good, "-csv", good}, "same file"},
		{[]string{"-json", good, "-csv", link}, "same file"},
		{[]string{"-json", "-", "-csv", "-"}, "standard output"},
		{[]string{"-sites", "all", "-json", good, "-csv", "-"}, "standard output"},
		{[]string{"-json", filepath.Join(good, "x.json")}, "not a directory"},
	} {
		code, out, errs := patchlab(t, sweepArgs(c.args...)...)
		if code != exitInput || !oneReport(errs, c.want) || strings.Contains(out, "wrote") {
			t.Errorf("%q: status %d, stdout %q, stderr %q, want 2 and %q", c.args, code, out, errs, c.want)
		}
		if got := strings.Join(files(t, dir), " "); got != "good.json link.csv" {
			t.Errorf("%q: left %q", c.args, got)
		}
		if b, _ := os.ReadFile(good); string(b) != "old" {
			t.Errorf("%q: good.json was replaced", c.args)
		}
	}
}

// TestOutputToStdout: -json - puts the JSON alone on stdout, the report on stderr.
func TestOutputToStdout(t *testing.T) {
	code, out, errs := patchlab(t, sweepArgs("-sites", "embed", "-json", "-")...)
	if code != 0 || !strings.HasPrefix(out, "{") || !strings.Contains(errs, "Clean:") {
		t.Fatalf("status %d, stdout %.80q, stderr %.80q", code, out, errs)
	}
	p := filepath.Join(t.TempDir(), "out.json")
	os.WriteFile(p, []byte(out), 0o644)
	readJSON(t, p)
}

// oneReport says whether stderr ends with the command's one-line report,
// holding want, and has no other.
func oneReport(stderr, want string) bool {
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	return strings.Count(stderr, "patchlab ") == strings.Count(last, "patchlab ") && strings.HasPrefix(last, "patchlab ") && strings.Contains(last, want)
}

// fullWriter fails every write, as a full disk does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestLostOutput: a command whose stdout cannot be written exits 1 with one line.
func TestLostOutput(t *testing.T) {
	for _, args := range [][]string{
		{"tokenize", michelle},
		{"tokenize", "-json", michelle},
		{"top", "-model", tinyModel, michelle},
		sweepArgs("-sites", "embed"),
		sweepArgs("-sites", "embed", "-json", "-"),
	} {
		var errb strings.Builder
		code := run(context.Background(), args, fullWriter{}, &errb)
		if code != exitInternal || !oneReport(errb.String(), "no space left") {
			t.Errorf("%q: status %d, stderr %q, want 1 and one line", args, code, errb.String())
		}
	}
}

// TestSecondInterruptRemovesTemps: the second signal exits 130 at once,
// with no temporary file left.
func TestSecondInterruptRemovesTemps(t *testing.T) {
	defer func(saved *tempFiles) { temps = saved }(temps)
	temps = &tempFiles{names: map[string]bool{}}
	dir := t.TempDir()
	var o outputs
	for _, name := range []string{"a.json", "b.png"} {
		if err := o.add(filepath.Join(dir, name), func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if len(files(t, dir)) != 2 {
		t.Fatalf("staged %q", files(t, dir))
	}
	sigs := make(chan os.Signal, 2)
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go watchInterrupts(sigs, cancel, func(code int) { exited <- code })
	sigs <- os.Interrupt
	<-ctx.Done()
	sigs <- os.Interrupt
	select {
	case code := <-exited:
		if code != exitInterrupted {
			t.Errorf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after a second interrupt")
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("left %q", got)
	}
}

// FuzzOutputTarget: whatever the path, an output is refused or goes to
// standard output, a device or pipe, or a regular or new file, never over
// a directory; and a path claimed once is refused the second time.
func FuzzOutputTarget(f *testing.F) {
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Symlink("file", filepath.Join(dir, "link"))
	os.Symlink("sub", filepath.Join(dir, "dirlink"))
	os.Symlink("none", filepath.Join(dir, "dangling"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
	for _, s := range []string{"-", "", "file", "sub", "sub/", "link", "dirlink", "dangling", "fifo", "new.json", "sub/../file", "./link", "file/x", "dirlink/new", "/dev/null", "//", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if p != "-" && !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		target, direct, err := outputTarget(p)
		if err != nil {
			var in *inputError
			if !errors.As(err, &in) {
				t.Errorf("%q: %v is not an input error", p, err)
			}
			return
		}
		if target == "-" {
			if p != "-" || !direct {
				t.Errorf("%q gave standard output", p)
			}
			return
		}
		st, serr := os.Stat(target)
		switch {
		case direct && (serr != nil || st.Mode()&(fs.ModeDevice|fs.ModeNamedPipe) == 0):
			t.Errorf("%q: written directly to %s (%v, %v)", p, target, st, serr)
		case !direct && serr == nil && !st.Mode().IsRegular():
			t.Errorf("%q: renamed over %s, a %v", p, target, st.Mode())
		case !direct && serr != nil && !errors.Is(serr, fs.ErrNotExist) && !errors.Is(serr, syscall.ENOTDIR):
			t.Errorf("%q: %v", p, serr)
		}
		var o outputs
		if _, err := o.claim(p); err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if _, err := o.claim(p); err == nil {
			t.Errorf("%q claimed twice", p)
		}
	})
}
