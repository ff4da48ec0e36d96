package sitetest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/patchlab/patchlab/model/gpt2"
	"github.com/patchlab/patchlab/model/safetensors"
)

// TestConvertGPT2SmallInBrowser converts a 548 MB float32 checkpoint of
// GPT-2 small's shape (random weights, Hugging Face layout) in the page:
// downloaded by URL, converted tensor by tensor in a worker, kept in Cache
// Storage, loaded in the workers, swept. It takes about a minute and
// several GB of memory, so it runs only with PATCHLAB_HEAVY=1.
func TestConvertGPT2SmallInBrowser(t *testing.T) {
	if os.Getenv("PATCHLAB_HEAVY") == "" {
		t.Skip("set PATCHLAB_HEAVY=1 to convert a GPT-2-small-sized checkpoint in the browser")
	}
	e := setup(t)
	ckpt := filepath.Join(t.TempDir(), "model.safetensors")
	writeRandomCheckpoint(t, ckpt, gpt2.Small)
	mux := http.NewServeMux()
	mux.HandleFunc("/big/model.safetensors", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, ckpt) })
	mux.HandleFunc("/big/config.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"n_layer": 12, "n_head": 12, "n_embd": 768, "n_ctx": 1024, "vocab_size": 50257}`)
	})
	mux.Handle("/", http.FileServer(http.Dir(e.dist)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tb := newTab(t, e)
	tb.origin = srv.URL
	tb.open("?workers=2", 1)
	start := time.Now()
	tb.do(chromedp.Click(chromedp.ID("weights-show")),
		chromedp.Click(chromedp.CSS(`input[name=precision][value=int8]`)),
		chromedp.SetValue(chromedp.ID("weights-url"), srv.URL+"/big/model.safetensors"),
		chromedp.Click(chromedp.ID("weights-fetch")))
	tb.wait("the converted GPT-2 small", `patchlab.status().ready && patchlab.status().info.config.n_layer === 12 && patchlab.status().workers.ready === 2`, 10*time.Minute)
	t.Logf("downloaded, converted, kept and loaded in 2 workers in %.1fs", time.Since(start).Seconds())
	mem := eval[[]struct{ Wasm float64 }](tb, `patchlab.memory()`)
	t.Logf("wasm memory per worker: %v MB", mem)
	tb.runAndWait()
	t.Logf("sweep: %s", eval[string](tb, `patchlab.status().runStatus`))
}

// writeRandomCheckpoint writes a float32 GPT-2 checkpoint of shape c in the
// Hugging Face layout (Conv1D weights [in, out], no lm_head).
func writeRandomCheckpoint(t *testing.T, path string, c gpt2.Config) {
	t.Helper()
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
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := safetensors.Write(f, ts); err != nil {
		t.Fatal(err)
	}
}
