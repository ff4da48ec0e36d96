package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
)

func main() {
	c := gpt2.Small
	r := rand.New(rand.NewPCG(1, 2))
	tensor := func(name string, fill float32, shape ...int) safetensors.NamedTensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			v := fill
			if fill == 0 {
				v = float32(r.NormFloat64()) * 0.02
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return safetensors.NamedTensor{Name: name, DType: "F32", Shape: shape, Data: b}
	}
	C := c.Width
	ts := []safetensors.NamedTensor{tensor("wte.weight", 0, c.Vocab, C), tensor("wpe.weight", 0, c.Context, C), tensor("ln_f.weight", 1, C), tensor("ln_f.bias", 1e-9, C)}
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("h.%d.", i)
		ts = append(ts,
			tensor(p+"ln_1.weight", 1, C), tensor(p+"ln_1.bias", 1e-9, C),
			tensor(p+"attn.c_attn.weight", 0, C, 3*C), tensor(p+"attn.c_attn.bias", 1e-9, 3*C),
			tensor(p+"attn.c_proj.weight", 0, C, C), tensor(p+"attn.c_proj.bias", 1e-9, C),
			tensor(p+"ln_2.weight", 1, C), tensor(p+"ln_2.bias", 1e-9, C),
			tensor(p+"mlp.c_fc.weight", 0, C, 4*C), tensor(p+"mlp.c_fc.bias", 1e-9, 4*C),
			tensor(p+"mlp.c_proj.weight", 0, 4*C, C), tensor(p+"mlp.c_proj.bias", 1e-9, C))
	}
	f, _ := os.Create(os.Args[1])
	defer f.Close()
	if err := safetensors.Write(f, ts); err != nil {
		panic(err)
	}
}
