package webfmt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/tensor"
)

func TestLoadRejectsDamage(t *testing.T) {
	src := t.TempDir()
	convertSmallShards(t, gpt2.Random(tinyConfig, 1), src)
	man := readManifest(t, src)
	shard := man.Shards[3].File
	cases := []struct {
		name   string
		damage func(dir string)
		want   []string
	}{
		{"truncated", func(dir string) {
			if err := os.Truncate(filepath.Join(dir, shard), 100); err != nil {
				t.Fatal(err)
			}
		}, []string{shard, "100 bytes"}},
		{"bit flipped", func(dir string) {
			path := filepath.Join(dir, shard)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 4
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{shard, "sha256"}},
		{"missing", func(dir string) {
			if err := os.Remove(filepath.Join(dir, shard)); err != nil {
				t.Fatal(err)
			}
		}, []string{shard, "no such file"}},
		{"version 1", func(dir string) {
			setVersion(t, dir, 1)
		}, []string{"version 1 is not supported", "convert the checkpoint (model.safetensors) again", ManifestName}},
		{"newer version", func(dir string) {
			setVersion(t, dir, 4)
		}, []string{"version 4 is not supported", "newer patchlab", ManifestName}},
		{"no manifest", func(dir string) {
			os.Remove(filepath.Join(dir, ManifestName))
		}, []string{ManifestName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, src)
			c.damage(dir)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// setVersion rewrites dir's manifest as if it were of another version.
func setVersion(t *testing.T, dir string, version int) {
	var raw map[string]any
	path := filepath.Join(dir, ManifestName)
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	raw["version"] = version
	data, _ = json.Marshal(raw)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	for _, name := range dirNames(t, src) {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// LoadFrom wraps shard bytes without copying them, except for a tensor
// split over shards and for float16 arrays, converted to float32.
func TestLoadFromViewsShardBytes(t *testing.T) {
	dir := t.TempDir()
	convertSmallShards(t, gpt2.Random(tinyConfig, 1), dir)
	man := readManifest(t, dir)
	var shards [][]byte
	m, err := LoadFrom(man, func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		shards = append(shards, b)
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	inShard := func(p unsafe.Pointer) bool {
		for _, b := range shards {
			base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
			if uintptr(p) >= base && uintptr(p) < base+uintptr(len(b)) {
				return true
			}
		}
		return false
	}
	proj := m.Blocks[1].Proj.(*tensor.QN)
	if !inShard(unsafe.Pointer(&proj.Hi[0])) || !inShard(unsafe.Pointer(&proj.Lo[0])) || !inShard(unsafe.Pointer(&m.Blocks[0].LN2B[0])) {
		t.Errorf("a tensor in one shard was copied")
	}
	wte := m.WTE.(*tensor.QN)
	if inShard(unsafe.Pointer(&wte.Hi[0])) {
		t.Errorf("wte.weight, split over shards, is not a joined copy")
	}
	if inShard(unsafe.Pointer(&proj.Steps[0])) || inShard(unsafe.Pointer(&wte.Steps[0])) || inShard(unsafe.Pointer(&m.WPE.(*tensor.F32).Data[0])) {
		t.Errorf("float16 data is not converted to float32")
	}
}

func TestLoadFromReportsOpenError(t *testing.T) {
	man := planned(t, tinyConfig, 10_000)
	_, err := LoadFrom(man, func(name string) ([]byte, error) { return nil, os.ErrNotExist })
	if err == nil || !strings.Contains(err.Error(), man.Shards[0].File) {
		t.Errorf("got %v, want an error naming %s", err, man.Shards[0].File)
	}
}

// LoadHashed leaves the sha256 to its caller and checks the sizes; LoadFrom
// checks both. A flipped byte is what tells them apart.
func TestLoadHashedChecksSizesOnly(t *testing.T) {
	dir := t.TempDir()
	convertSmallShards(t, gpt2.Random(tinyConfig, 1), dir)
	man := readManifest(t, dir)
	read := func(flip, cut bool) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil && name == man.Shards[0].File {
				if flip {
					b[len(b)-1] ^= 1
				}
				if cut {
					b = b[:len(b)-1]
				}
			}
			return b, err
		}
	}
	if _, err := LoadFrom(man, read(true, false)); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("LoadFrom of a flipped byte: %v, want a sha256 mismatch", err)
	}
	if _, err := LoadHashed(man, read(true, false)); err != nil {
		t.Errorf("LoadHashed hashed the shards: %v", err)
	}
	if _, err := LoadHashed(man, read(false, true)); err == nil || !strings.Contains(err.Error(), "the manifest says") {
		t.Errorf("LoadHashed of a short shard: %v, want its size refused", err)
	}
}
