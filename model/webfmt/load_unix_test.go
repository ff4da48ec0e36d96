//go:build unix

package webfmt

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchlab/patchlab/model/gpt2"
)

// TestLoadPlainFilesOnly: a shard or manifest that is a link (here leaving
// the folder), a named pipe or a directory is refused by name, at once (a
// pipe would block for ever); so is a manifest far larger than any real one.
func TestLoadPlainFilesOnly(t *testing.T) {
	src := t.TempDir()
	convertSmallShards(t, gpt2.Random(tinyConfig, 1), src)
	shard := readManifest(t, src).Shards[1].File
	outside := t.TempDir()
	cases := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"link leaving the folder", func(dir string) {
			os.Rename(filepath.Join(dir, shard), filepath.Join(outside, shard))
			os.Symlink(filepath.Join(outside, shard), filepath.Join(dir, shard))
		}, shard + ": is a symbolic link, not a plain file"},
		{"named pipe", func(dir string) {
			os.Remove(filepath.Join(dir, shard))
			if err := syscall.Mkfifo(filepath.Join(dir, shard), 0o644); err != nil {
				t.Skip(err)
			}
		}, shard + ": is a named pipe, not a plain file"},
		{"directory", func(dir string) {
			os.Remove(filepath.Join(dir, shard))
			os.Mkdir(filepath.Join(dir, shard), 0o755)
		}, shard + ": is a directory"},
		{"manifest link", func(dir string) {
			os.Rename(filepath.Join(dir, ManifestName), filepath.Join(outside, ManifestName))
			os.Symlink(filepath.Join(outside, ManifestName), filepath.Join(dir, ManifestName))
		}, ManifestName + ": is a symbolic link"},
		{"huge manifest", func(dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, ManifestName), os.O_WRONLY|os.O_APPEND, 0)
			f.Write(make([]byte, MaxManifestSize))
			f.Close()
		}, "more than the 4194304 a manifest can be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, src)
			c.damage(dir)
			done := make(chan error, 1)
			go func() { _, err := Load(dir); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), dir) != 1 {
					t.Errorf("got %v, want %q and the folder once", err, c.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Load blocked")
			}
		})
	}
}
