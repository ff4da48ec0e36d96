// Package webfmt is patchlab's quantised weight format for the web: GPT-2
// as Quantize(m, bits) has it (wte and the block matrices as 8-
// to 16-bit integer codes with float16 scales, float16 wpe), stored
// out-major in shards of at most 16 MB, described by a JSON manifest with
// each shard's size and sha256. FORMAT.md beside this file is the
// specification; the format's name, "patchlab-int8", is older than its
// wider codes.
package webfmt

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

const (
	// FormatName and Version identify the format in the manifest.
	FormatName = "patchlab-int8"
	Version    = 3
	// ManifestName is the manifest's file name in a converted directory.
	ManifestName = "manifest.json"
	// MaxShardSize is the largest shard, in bytes (16 MB).
	MaxShardSize = 16_000_000
	// Align is the alignment of every tensor part within its shard.
	Align = 64
	// MaxManifestSize is the largest manifest read: GPT-2 small's is about
	// 50 kB, XL's a few times that.
	MaxManifestSize = 4 << 20
)

// Manifest describes a converted model: its configuration, its shards and
// where each tensor lies in them.
type Manifest struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Config  gpt2.Config `json:"config"`   // with Hugging Face's names
	Bits    int         `json:"bits"`     // code width of the block matrices; wte's is WTEBits
	QNBlock int         `json:"qn_block"` // weights sharing one scale
	Shards  []Shard     `json:"shards"`
	Tensors []Tensor    `json:"tensors"`
	// Calibration is what the converter measured, when it chose the width
	// by calibration (model/calib); nil otherwise.
	Calibration *Calibration `json:"calibration,omitempty"`
	// Check is the result of checking the model against published numbers
	// (model/selfcheck, `patchlab check`); nil when it was not checked.
	Check *Check `json:"check,omitempty"`
}

// Check is a self-check's result: Result is "passed", "failed" or
// "skipped"; Detail says what was checked and the worst deviation, the
// first failure, or why it was skipped.
type Check struct {
	Result  string `json:"result"`
	Against string `json:"against"`
	Checks  int    `json:"checks"`
	Detail  string `json:"detail"`
}

// WriteCheck records c in the manifest of the converted model in dir.
func WriteCheck(dir string, c *Check) error {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return err
	}
	m.Check = c
	return writeManifest(dir, m)
}

// Calibration is the converter's measurement of the model it wrote: the
// worst heatmap cell on its calibration pairs was off by Worst × the
// float32 heatmap's range, and it was held to Tolerance.
type Calibration struct {
	Tolerance float64 `json:"tolerance"`
	Worst     float64 `json:"worst"`
}

// Shard is one file of tensor data.
type Shard struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// Tensor is one stored array: little-endian, row-major, split along its
// first dimension into Parts that are consecutive in the tensor.
type Tensor struct {
	Name  string `json:"name"`
	DType string `json:"dtype"` // "i8", "u8", "f16" or "f32"
	Shape []int  `json:"shape"`
	Parts []Part `json:"parts"`
}

// Part is a range of a tensor's first dimension stored contiguously in one shard.
type Part struct {
	Shard  int   `json:"shard"`  // index into Manifest.Shards
	Offset int64 `json:"offset"` // byte offset in the shard, a multiple of Align
	Rows   int   `json:"rows"`   // extent along the first dimension
}

// Bytes is the total size of the shards.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, s := range m.Shards {
		n += s.Size
	}
	return n
}

// ParseManifest decodes and validates a manifest. Unknown fields, another
// format or version, and any tensor missing, misshapen or out of its shard's
// bounds are errors.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("webfmt: manifest is %d bytes, more than the %d a manifest can be", len(data), MaxManifestSize)
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("webfmt: manifest: %w", err)
	}
	if err := checkFormat(head.Format, head.Version); err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("webfmt: manifest: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("webfmt: manifest: data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func checkFormat(format string, version int) error {
	if format != FormatName {
		return fmt.Errorf("webfmt: manifest format is %q, want %q", format, FormatName)
	}
	switch {
	case version == Version:
	case version >= 1 && version < Version:
		return fmt.Errorf("webfmt: manifest version %d is not supported: an older patchlab wrote it, and this one reads version %d, whose weights are quantised differently; convert the checkpoint (model.safetensors) again with this patchlab", version, Version)
	case version > Version:
		return fmt.Errorf("webfmt: manifest version %d is not supported (this patchlab reads version %d; a newer patchlab wrote it?)", version, Version)
	default:
		return fmt.Errorf("webfmt: manifest version %d is not supported (this patchlab reads version %d)", version, Version)
	}
	return nil
}

// Validate checks everything ParseManifest checks after decoding.
func (m *Manifest) Validate() error {
	if err := checkFormat(m.Format, m.Version); err != nil {
		return err
	}
	if err := CheckBits(m.Bits); err != nil {
		return fmt.Errorf("webfmt: manifest bits is %d: %w", m.Bits, err)
	}
	if m.QNBlock != tensor.QNBlock {
		return fmt.Errorf("webfmt: manifest qn_block is %d, want %d", m.QNBlock, tensor.QNBlock)
	}
	if c := m.Calibration; c != nil && !(c.Tolerance > 0 && c.Tolerance <= 1 && c.Worst >= 0 && c.Worst <= 1000) {
		return fmt.Errorf("webfmt: manifest calibration %+v: want a tolerance in (0, 1] and a worst error in [0, 1000]", *c)
	}
	if c := m.Check; c != nil && c.Result != "passed" && c.Result != "failed" && c.Result != "skipped" {
		return fmt.Errorf("webfmt: manifest check result %q: want passed, failed or skipped", c.Result)
	}
	if err := validateConfig(m.Config); err != nil {
		return err
	}
	if err := m.validateShards(); err != nil {
		return err
	}
	return m.validateTensors()
}

// Limits keep a hostile manifest from implying absurd sizes; GPT-2 XL is
// 48 layers, 25 heads, width 1600.
const (
	maxLayers = 1024
	maxHeads  = 1024
	maxWidth  = 1 << 16
	maxCtx    = 1 << 20
	maxVocab  = 1 << 22
)

func validateConfig(c gpt2.Config) error {
	for _, v := range []struct {
		key      string
		val, max int
	}{{"n_layer", c.Layers, maxLayers}, {"n_head", c.Heads, maxHeads}, {"n_embd", c.Width, maxWidth},
		{"n_ctx", c.Context, maxCtx}, {"vocab_size", c.Vocab, maxVocab}} {
		if v.val < 1 || v.val > v.max {
			return fmt.Errorf("webfmt: manifest config: %s is %d, want 1 to %d", v.key, v.val, v.max)
		}
	}
	switch {
	case c.Width%c.Heads != 0:
		return fmt.Errorf("webfmt: manifest config: n_embd %d is not a multiple of n_head %d", c.Width, c.Heads)
	case c.Width%tensor.QNBlock != 0:
		return fmt.Errorf("webfmt: manifest config: n_embd %d is not a multiple of %d (the weights sharing one scale)", c.Width, tensor.QNBlock)
	}
	return nil
}

func (m *Manifest) validateShards() error {
	if len(m.Shards) == 0 {
		return errors.New("webfmt: manifest lists no shards")
	}
	seen := map[string]bool{}
	for i, s := range m.Shards {
		if !validFileName(s.File) {
			return fmt.Errorf("webfmt: manifest shard %d: invalid file name %q", i, s.File)
		}
		if seen[s.File] {
			return fmt.Errorf("webfmt: manifest shard %s: listed twice", s.File)
		}
		seen[s.File] = true
		if s.Size < 1 || s.Size > MaxShardSize {
			return fmt.Errorf("webfmt: manifest shard %s: size %d is not in 1…%d", s.File, s.Size, MaxShardSize)
		}
		if !validSHA256(s.SHA256) {
			return fmt.Errorf("webfmt: manifest shard %s: sha256 %q is not 64 lowercase hex digits", s.File, s.SHA256)
		}
	}
	return nil
}

// validFileName accepts plain names (no directories, no leading dot), so a
// manifest cannot point outside the directory it is in.
func validFileName(s string) bool {
	if s == "" || len(s) > 255 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validateTensors checks that the tensors are exactly those the
// configuration implies, and that their parts tile them and lie within the
// shards without overlapping.
func (m *Manifest) validateTensors() error {
	want := storedTensors(m.Config, m.Bits)
	if len(m.Tensors) != len(want) {
		return fmt.Errorf("webfmt: manifest has %d tensors, the configuration implies %d", len(m.Tensors), len(want))
	}
	byName := make(map[string]Tensor, len(want))
	for _, t := range want {
		byName[t.Name] = t
	}
	type span struct {
		begin, end int64
		name       string
	}
	spans := make([][]span, len(m.Shards))
	seen := map[string]bool{}
	for _, t := range m.Tensors {
		w, ok := byName[t.Name]
		if !ok {
			return fmt.Errorf("webfmt: manifest tensor %q is not a GPT-2 parameter of this format", t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("webfmt: manifest tensor %s: listed twice", t.Name)
		}
		seen[t.Name] = true
		if t.DType != w.DType || !slices.Equal(t.Shape, w.Shape) {
			return fmt.Errorf("webfmt: manifest tensor %s: %s%v, want %s%v", t.Name, t.DType, t.Shape, w.DType, w.Shape)
		}
		if len(t.Parts) == 0 {
			return fmt.Errorf("webfmt: manifest tensor %s: no parts", t.Name)
		}
		rowBytes := t.rowBytes()
		rows := 0
		for _, p := range t.Parts {
			if p.Rows < 1 || p.Rows > t.Shape[0]-rows {
				return fmt.Errorf("webfmt: manifest tensor %s: parts do not tile its %d rows", t.Name, t.Shape[0])
			}
			rows += p.Rows
			if p.Shard < 0 || p.Shard >= len(m.Shards) {
				return fmt.Errorf("webfmt: manifest tensor %s: shard index %d out of range", t.Name, p.Shard)
			}
			s := m.Shards[p.Shard]
			end := p.Offset + int64(p.Rows)*rowBytes
			if p.Offset < 0 || p.Offset%Align != 0 || end > s.Size {
				return fmt.Errorf("webfmt: manifest tensor %s: bytes %d…%d do not fit shard %s (%d bytes, offsets aligned to %d)", t.Name, p.Offset, end, s.File, s.Size, Align)
			}
			spans[p.Shard] = append(spans[p.Shard], span{p.Offset, end, t.Name})
		}
		if rows != t.Shape[0] {
			return fmt.Errorf("webfmt: manifest tensor %s: parts do not tile its %d rows", t.Name, t.Shape[0])
		}
	}
	for i, ss := range spans {
		slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(a.begin, b.begin) })
		for j := 1; j < len(ss); j++ {
			if ss[j].begin < ss[j-1].end {
				return fmt.Errorf("webfmt: manifest: tensors %s and %s overlap in shard %s", ss[j-1].name, ss[j].name, m.Shards[i].File)
			}
		}
	}
	return nil
}

// rowBytes is the size of one slice along the first dimension.
func (t Tensor) rowBytes() int64 {
	n := int64(dtypeSize(t.DType))
	for _, d := range t.Shape[1:] {
		n *= int64(d)
	}
	return n
}

// Bytes is the tensor's size.
func (t Tensor) Bytes() int64 { return int64(t.Shape[0]) * t.rowBytes() }

func dtypeSize(dtype string) int {
	switch dtype {
	case "i8", "u8":
		return 1
	case "f16":
		return 2
	case "f32":
		return 4
	}
	panic("webfmt: unknown dtype " + dtype)
}
