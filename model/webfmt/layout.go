package webfmt

import (
	"fmt"

	"github.com/patchlab/patchlab/model/gpt2"
)

// layout places the tensors of a model of configuration c, with block
// matrices of codes of the given width, in shards of at
// most maxShard bytes, in order, each part at an offset aligned to Align.
// A tensor too big for one shard is split by rows over shards of its own,
// so that once the loader has joined its parts those shards can be freed;
// every other tensor lies whole in one shard and loads without a copy.
// It returns the tensors with their parts and the size of each shard.
func layout(c gpt2.Config, bits int, maxShard int64) ([]Tensor, []int64, error) {
	ts := storedTensors(c, bits)
	var sizes []int64 // sizes[len-1] is the end of the current shard's data
	fresh := true     // the next tensor must start a new shard
	for i := range ts {
		t := &ts[i]
		rowBytes := t.rowBytes()
		if size := t.Bytes(); size <= maxShard {
			off := int64(0)
			if !fresh {
				off = alignUp(sizes[len(sizes)-1])
			}
			if fresh || off+size > maxShard {
				sizes, off = append(sizes, 0), 0
			}
			t.Parts = []Part{{Shard: len(sizes) - 1, Offset: off, Rows: t.Shape[0]}}
			sizes[len(sizes)-1] = off + size
			fresh = false
			continue
		}
		perShard := int(maxShard / rowBytes)
		if perShard < 1 {
			return nil, nil, fmt.Errorf("webfmt: %s: a row of %d bytes does not fit a shard", t.Name, rowBytes)
		}
		for r := 0; r < t.Shape[0]; r += perShard {
			n := min(perShard, t.Shape[0]-r)
			t.Parts = append(t.Parts, Part{Shard: len(sizes), Offset: 0, Rows: n})
			sizes = append(sizes, int64(n)*rowBytes)
		}
		fresh = true
	}
	return ts, sizes, nil
}

func alignUp(n int64) int64 { return (n + Align - 1) / Align * Align }
