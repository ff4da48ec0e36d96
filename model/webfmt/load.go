package webfmt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// ReadManifest reads and checks dir's manifest.json, a plain file.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := readPlain(dir, ManifestName, MaxManifestSize, false)
	if err != nil {
		return nil, fmt.Errorf("webfmt: %s: %w", filepath.Join(dir, ManifestName), err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, filepath.Join(dir, ManifestName))
	}
	return m, nil
}

// Load reads a converted model from dir: manifest.json and its shards,
// each a plain file in dir (no symbolic link, pipe or device).
func Load(dir string) (*gpt2.Model, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, s := range m.Shards {
		sizes[s.File] = s.Size
	}
	model, err := LoadFrom(m, func(name string) ([]byte, error) {
		return readPlain(dir, name, sizes[name], true)
	})
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	return model, nil
}

// readPlain reads the file name in dir, which must be a plain file of at
// most size bytes (exactly size if exact). Checking before opening keeps a
// link from reading outside dir and a pipe from blocking for ever.
func readPlain(dir, name string, size int64, exact bool) ([]byte, error) {
	path := filepath.Join(dir, name)
	st, err := os.Lstat(path)
	if err != nil {
		return nil, plainError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("is %s, not a plain file: a converted model's files must be plain files in its folder (copy them, do not link them)", fileKind(st.Mode()))
	}
	if st.Size() > size || exact && st.Size() != size {
		if exact {
			return nil, fmt.Errorf("is %d bytes, the manifest says %d (truncated or wrong file?)", st.Size(), size)
		}
		return nil, fmt.Errorf("is %d bytes, more than the %d a manifest can be", st.Size(), size)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, plainError(err)
	}
	defer f.Close()
	if fst, err := f.Stat(); err != nil || !os.SameFile(st, fst) {
		return nil, errors.New("changed while it was being opened")
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

// plainError drops the path from a file system error: the caller names it.
func plainError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}

// LoadFrom builds the model m describes from shard bytes that open returns
// (from a directory, a fetch, a cache), after checking each shard's size and
// sha256. The model is the one Quantize(·, m.Bits) gives: QN
// wte and block matrices, F32 wpe; float16 scales and wpe are converted to
// float32, and the other arrays (int8 and low-bit planes, float32 vectors)
// are views of the shard bytes wherever a tensor lies whole in one shard, so
// open's results must not be modified afterwards.
func LoadFrom(m *Manifest, open func(shard string) ([]byte, error)) (*gpt2.Model, error) {
	return load(m, open, true)
}

// LoadHashed is LoadFrom for shards whose sha256 the caller has checked
// against the manifest already (the page hashes each shard natively as it
// arrives, and a hash in WebAssembly would take seconds more): only their
// sizes are checked.
func LoadHashed(m *Manifest, open func(shard string) ([]byte, error)) (*gpt2.Model, error) {
	return load(m, open, false)
}

func load(m *Manifest, open func(shard string) ([]byte, error), hash bool) (*gpt2.Model, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	shards := make([][]byte, len(m.Shards))
	for i, s := range m.Shards {
		b, err := open(s.File)
		if err != nil {
			return nil, fmt.Errorf("webfmt: shard %s: %w", s.File, err)
		}
		if err := s.verify(b, hash); err != nil {
			return nil, err
		}
		shards[i] = b
	}
	byName := make(map[string]Tensor, len(m.Tensors))
	for _, t := range m.Tensors {
		byName[t.Name] = t
	}
	data := func(name string) []byte { return byName[name].data(shards) }
	c := m.Config
	model := &gpt2.Model{Config: c, Blocks: make([]gpt2.Block, c.Layers)}
	for _, p := range params(c) {
		switch p.kind {
		case vector:
			*p.Vec(model) = float32s(data(p.Name))
		case qn:
			bits, lo := p.bits(m.Bits), []byte{}
			if bits > 8 {
				lo = data(lowBitsName(p.Name))
			}
			*p.Mat(model) = tensor.NewQN(p.rows(), p.cols(), bits, int8s(data(p.Name)), lo, float16s(data(scaleName(p.Name))))
		case f16:
			*p.Mat(model) = tensor.NewF32(p.rows(), p.cols(), float16s(data(p.Name)))
		}
	}
	if err := model.Validate(); err != nil {
		return nil, fmt.Errorf("webfmt: %w", err)
	}
	return model, nil
}

func (s Shard) verify(b []byte, hash bool) error {
	if int64(len(b)) != s.Size {
		return fmt.Errorf("webfmt: shard %s: %d bytes, the manifest says %d (truncated or wrong file?)", s.File, len(b), s.Size)
	}
	if !hash {
		return nil
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != s.SHA256 {
		return fmt.Errorf("webfmt: shard %s: sha256 %x, the manifest says %s (corrupt or stale file?)", s.File, sum, s.SHA256)
	}
	return nil
}

// data returns the tensor's bytes: a view of its shard when it has one part,
// else its parts joined in a new array.
func (t Tensor) data(shards [][]byte) []byte {
	rowBytes := t.rowBytes()
	span := func(p Part) []byte {
		return shards[p.Shard][p.Offset : p.Offset+int64(p.Rows)*rowBytes]
	}
	if len(t.Parts) == 1 {
		return span(t.Parts[0])
	}
	b := make([]byte, 0, t.Bytes())
	for _, p := range t.Parts {
		b = append(b, span(p)...)
	}
	return b
}
