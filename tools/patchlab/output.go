package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	json "github.com/goccy/go-json"
)

// outputsHelp is what the help says about output paths.
const outputsHelp = `Output paths: a new file or an existing regular file is written under a
temporary name beside it and renamed into place at the end; a symbolic link
is followed, and the file it points to is replaced the same way (the link
stays); a device or a pipe (/dev/null, /dev/stdout) is written directly at
the end; - is standard output. A directory, or two outputs with the same
path, is refused (exit 2) before anything is written.`

// writeJSON writes v as one line of JSON, or indented.
func writeJSON(w io.Writer, v any, indent bool) error {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// outputs stages a command's output files and commits them all at the end,
// so that an error or an interrupt never leaves a half-written output, and
// a failed run leaves none. Regular files (and new ones) are written to
// temporary files beside them and renamed into place; devices, pipes and
// standard output, which cannot be renamed over, are kept in memory and
// written directly at the commit, before any rename, so that a failure
// there still commits nothing else.
type outputs struct {
	stdout io.Writer // for "-"
	staged []stagedFile
	seen   map[string]string // target → the path given for it
}

type stagedFile struct {
	path   string // as given
	target string // the file replaced: path, or a symlink's target
	tmp    string // the temporary file, for a rename
	direct []byte // the contents, for a device, a pipe or standard output
}

// outputTarget says how path is written: the file a rename must replace
// (a symlink's target), or direct for standard output ("-"), a device or a
// pipe. A directory, a dangling link or a socket is an input error.
func outputTarget(path string) (target string, direct bool, err error) {
	switch {
	case path == "-":
		return "-", true, nil
	case path == "" || strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator)):
		return "", false, inputf("output %q: give a file name", path)
	}
	st, err := os.Stat(path) // through links
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(path); lerr == nil {
			return "", false, inputf("output %s is a symbolic link to a missing file: remove the link or give another name", path)
		}
		return path, false, nil // a new file (its directory is made if needed)
	}
	if err != nil {
		return "", false, asInput(err)
	}
	switch mode := st.Mode(); {
	case mode.IsRegular():
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return "", false, asInput(err)
		}
		return target, false, nil
	case mode.IsDir():
		return "", false, inputf("output %s is a directory: give a file name (such as %s)", path, filepath.Join(path, "out"+filepath.Ext(path)))
	case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe) != 0:
		return path, true, nil
	}
	return "", false, inputf("output %s is neither a file, a device nor a pipe: give a file name", path)
}

// checkOutputs checks output paths before any work: each is one that can be
// written, and no two are the same file. Empty paths (flags not given) are
// skipped.
func checkOutputs(paths ...string) error {
	o := outputs{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if _, err := o.claim(p); err != nil {
			return err
		}
	}
	return nil
}

// claim resolves path and records its target, refusing a second output to
// the same file.
func (o *outputs) claim(path string) (target string, err error) {
	target, _, err = outputTarget(path)
	if err != nil {
		return "", err
	}
	key := target
	if key != "-" {
		if abs, err := filepath.Abs(target); err == nil {
			key = abs
		}
	}
	if o.seen == nil {
		o.seen = map[string]string{}
	}
	if first, dup := o.seen[key]; dup {
		if target == "-" {
			return "", inputf("two outputs go to standard output (-): give file names (a flag that writes one file per site needs one)")
		}
		return "", inputf("two outputs go to the same file (%s and %s): give each its own name", first, path)
	}
	o.seen[key] = path
	return target, nil
}

// add stages one output: written to a temporary file beside its target
// (whose directory is created if needed) and flushed to disk, or kept in
// memory for a direct write.
func (o *outputs) add(path string, write func(io.Writer) error) (err error) {
	target, err := o.claim(path)
	if err != nil {
		return err
	}
	if _, direct, _ := outputTarget(path); direct {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		o.staged = append(o.staged, stagedFile{path: path, target: target, direct: buf.Bytes()})
		return nil
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return asInput(err)
	}
	f, err := temps.create(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return asInput(err)
	}
	defer func() {
		if err != nil {
			f.Close()
			temps.remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	o.staged = append(o.staged, stagedFile{path: path, target: target, tmp: f.Name()})
	return nil
}

// commit writes the direct outputs, then renames every staged file into
// place, unless ctx is done. It returns the paths written (not "-").
func (o *outputs) commit(ctx context.Context) ([]string, error) {
	defer o.abort()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var written []string
	for _, s := range o.staged {
		if s.tmp != "" {
			continue
		}
		if err := o.writeDirect(s); err != nil {
			return nil, fmt.Errorf("could not write %s, so no output was committed: %w", s.path, err)
		}
		if s.path != "-" {
			written = append(written, s.path)
		}
	}
	for _, s := range o.staged {
		if s.tmp == "" {
			continue
		}
		if err := os.Rename(s.tmp, s.target); err != nil {
			return written, err
		}
		temps.forget(s.tmp)
		syncDir(filepath.Dir(s.target))
		written = append(written, s.path)
	}
	o.staged = nil
	return written, nil
}

func (o *outputs) writeDirect(s stagedFile) error {
	if s.target == "-" {
		_, err := o.stdout.Write(s.direct)
		return err
	}
	f, err := os.OpenFile(s.target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(s.direct)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// abort removes the staged temporary files.
func (o *outputs) abort() {
	for _, s := range o.staged {
		if s.tmp != "" {
			temps.remove(s.tmp)
		}
	}
	o.staged = nil
}

// syncDir flushes a directory entry (a rename) to disk where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// perView is the name of one of several outputs from one flag: "out.png"
// with view "resid_post" is "out-resid_post.png"; a single output keeps the
// name given, as does "-" (standard output takes only one).
func perView(path, view string, several bool) string {
	if !several || path == "-" {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + view + ext
}

// tempFiles are the temporary files that exist, so that every way out
// (an error, an interrupt, a second interrupt) can remove them.
type tempFiles struct {
	mu    sync.Mutex
	names map[string]bool
}

var temps = &tempFiles{names: map[string]bool{}}

func (t *tempFiles) create(dir, pattern string) (*os.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.CreateTemp(dir, pattern)
	if err == nil {
		t.names[f.Name()] = true
	}
	return f, err
}

func (t *tempFiles) remove(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	os.Remove(name)
	delete(t.names, name)
}

func (t *tempFiles) forget(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.names, name)
}

// removeAll removes every temporary file and keeps the lock, so that none
// is created after: for the way out on a second interrupt.
func (t *tempFiles) removeAll() {
	t.mu.Lock()
	for name := range t.names {
		os.Remove(name)
	}
	t.names = map[string]bool{}
}

// interruptContext is cancelled by the first SIGINT or SIGTERM (the command
// stops cleanly, exit 130). A second one exits at once, 130, after removing
// the temporary files.
func interruptContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go watchInterrupts(sigs, cancel, os.Exit)
	return ctx
}

func watchInterrupts(sigs <-chan os.Signal, cancel func(), exit func(int)) {
	<-sigs
	cancel()
	<-sigs
	temps.removeAll()
	fmt.Fprintln(os.Stderr, "patchlab: interrupted twice: stopped at once; no output files were written")
	exit(exitInterrupted)
}

// checkedWriter remembers the first failed write, so that output lost (a
// full disk, a closed pipe) fails the command instead of passing unseen.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	if err != nil {
		c.err = err
	}
	return n, err
}

// lost is the error of a command whose output could not be written.
func (c *checkedWriter) lost() error {
	if c.err == nil {
		return nil
	}
	return fmt.Errorf("could not write the output (%v): it is incomplete", c.err)
}
