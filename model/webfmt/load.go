package webfmt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

// Load reads a converted model from dir: manifest.json and its shards.
func Load(dir string) (*gpt2.Model, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("webfmt: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, filepath.Join(dir, ManifestName))
	}
	sizes := map[string]int64{}
	for _, s := range m.Shards {
		sizes[s.File] = s.Size
	}
	return LoadFrom(m, func(name string) ([]byte, error) {
		return readFile(filepath.Join(dir, name), sizes[name])
	})
}

// readFile reads a file expected to hold want bytes, refusing early one of
// another size.
func readFile(path string, want int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != want {
		return nil, fmt.Errorf("%s is %d bytes, the manifest says %d", path, st.Size(), want)
	}
	b := make([]byte, want)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// LoadFrom builds the model m describes from shard bytes that open returns
// (from a directory, a fetch, a cache), after checking each shard's size and
// sha256. The model is the one Quantize(·, m.Bits) gives: QN
// wte and block matrices, F32 wpe; float16 scales and wpe are converted to
// float32, and the other arrays (int8 and low-bit planes, float32 vectors)
// are views of the shard bytes wherever a tensor lies whole in one shard, so
// open's results must not be modified afterwards.
func LoadFrom(m *Manifest, open func(shard string) ([]byte, error)) (*gpt2.Model, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	shards := make([][]byte, len(m.Shards))
	for i, s := range m.Shards {
		b, err := open(s.File)
		if err != nil {
			return nil, fmt.Errorf("webfmt: shard %s: %w", s.File, err)
		}
		if err := s.verify(b); err != nil {
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

func (s Shard) verify(b []byte) error {
	if int64(len(b)) != s.Size {
		return fmt.Errorf("webfmt: shard %s: %d bytes, the manifest says %d (truncated or wrong file?)", s.File, len(b), s.Size)
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
