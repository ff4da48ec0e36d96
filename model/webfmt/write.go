package webfmt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
)

// shardWriter writes tensors' bytes into shards as a layout places them:
// each shard goes to a temporary file, which commit renames to a name
// holding the start of its sha256 (so a browser may cache shards forever).
type shardWriter struct {
	dir   string
	sizes []int64 // planned size of each shard
	done  []Shard // finished shards, File still temporary until commit

	f   *os.File
	h   hash.Hash
	pos int64

	written  int64
	progress func(done, total int64)
	total    int64
}

func newShardWriter(dir string, sizes []int64, progress func(done, total int64)) *shardWriter {
	w := &shardWriter{dir: dir, sizes: sizes, progress: progress}
	for _, s := range sizes {
		w.total += s
	}
	return w
}

// write writes data, the whole of tensor t, to the places t.Parts give.
func (w *shardWriter) write(t Tensor, data []byte) error {
	if int64(len(data)) != t.Bytes() {
		return fmt.Errorf("webfmt: %s: %d bytes, want %d", t.Name, len(data), t.Bytes())
	}
	rowBytes := t.rowBytes()
	for _, p := range t.Parts {
		n := int64(p.Rows) * rowBytes
		if err := w.writeAt(p.Shard, p.Offset, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (w *shardWriter) writeAt(shard int, off int64, b []byte) error {
	for w.f == nil || len(w.done) < shard {
		if err := w.next(); err != nil {
			return err
		}
	}
	if len(w.done) != shard || off < w.pos {
		return fmt.Errorf("webfmt: internal error: shard %d written out of order", shard)
	}
	if err := w.put(make([]byte, off-w.pos)); err != nil {
		return err
	}
	return w.put(b)
}

func (w *shardWriter) put(b []byte) error {
	if _, err := w.f.Write(b); err != nil {
		return err
	}
	w.h.Write(b)
	w.pos += int64(len(b))
	w.written += int64(len(b))
	if w.progress != nil && len(b) > 0 {
		w.progress(w.written, w.total)
	}
	return nil
}

// next finishes the current shard, if any, and starts the next one.
func (w *shardWriter) next() error {
	if w.f != nil {
		if err := w.finish(); err != nil {
			return err
		}
	}
	if len(w.done) == len(w.sizes) {
		return errors.New("webfmt: internal error: more shards than planned")
	}
	f, err := createTemp(w.dir, ".shard-*.tmp")
	if err != nil {
		return err
	}
	w.f, w.h, w.pos = f, sha256.New(), 0
	return nil
}

func (w *shardWriter) finish() error {
	f := w.f
	w.f = nil
	i := len(w.done)
	w.done = append(w.done, Shard{File: f.Name(), Size: w.pos, SHA256: hex.EncodeToString(w.h.Sum(nil))})
	if w.pos != w.sizes[i] {
		f.Close()
		return fmt.Errorf("webfmt: internal error: shard %d has %d bytes, planned %d", i, w.pos, w.sizes[i])
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// commit finishes the last shard, renames every shard to its final name
// and returns the shards as the manifest lists them.
func (w *shardWriter) commit() ([]Shard, error) {
	if w.f != nil {
		if err := w.finish(); err != nil {
			return nil, err
		}
	}
	if len(w.done) != len(w.sizes) {
		return nil, fmt.Errorf("webfmt: internal error: wrote %d shards, planned %d", len(w.done), len(w.sizes))
	}
	shards := make([]Shard, len(w.done))
	for i, s := range w.done {
		name := fmt.Sprintf("shard-%03d-%s.bin", i, s.SHA256[:12])
		if err := os.Rename(s.File, filepath.Join(w.dir, name)); err != nil {
			return nil, err
		}
		w.done[i].File = ""
		s.File = name
		shards[i] = s
	}
	return shards, nil
}

// abort removes the temporary files left.
func (w *shardWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.f.Name())
	}
	for _, s := range w.done {
		if s.File != "" {
			os.Remove(s.File)
		}
	}
}

// writeManifest writes m to dir/manifest.json through a temporary file and
// a rename, then removes the shards of the manifest it replaces that m no
// longer lists.
func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	old := listedShards(dir)
	if err := writeFileAtomic(filepath.Join(dir, ManifestName), append(data, '\n')); err != nil {
		return err
	}
	for _, s := range m.Shards {
		delete(old, s.File)
	}
	for name := range old {
		os.Remove(filepath.Join(dir, name))
	}
	return nil
}

// listedShards returns the shard files of the manifest in dir, if any: of
// any version of the format, so that converting again over an older
// conversion removes its shards too.
func listedShards(dir string) map[string]bool {
	names := map[string]bool{}
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return names
	}
	var m struct {
		Format string `json:"format"`
		Shards []struct {
			File string `json:"file"`
		} `json:"shards"`
	}
	if json.Unmarshal(data, &m) != nil || m.Format != FormatName {
		return names
	}
	for _, s := range m.Shards {
		if validFileName(s.File) && s.File != ManifestName {
			names[s.File] = true
		}
	}
	return names
}

func writeFileAtomic(path string, data []byte) error {
	f, err := createTemp(filepath.Dir(path), ".manifest-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// createTemp is os.CreateTemp with the permissions of a file meant to be
// served (os.CreateTemp's are 0600).
func createTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}
