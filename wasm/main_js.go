//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"syscall/js"
	"time"

	"github.com/patchlab/patchlab/model/analysis"
	"github.com/patchlab/patchlab/model/patch"
)

// The worker script (site/worker.js) calls these functions on
// globalThis.patchlab; site/PROTOCOL.md lists them with their arguments and
// results. Every call that can fail returns a Promise, run in a goroutine
// of its own (so that it may wait for JavaScript: a fetch, a yield to the
// worker's event loop), which resolves with a JSON string (or nothing) and
// rejects with a plain object {kind, message, detail} (errors.go). The
// others (cancel, forget, memory, crash) cannot fail.

var (
	engine = NewEngine()
	// cancel stops the sweep in progress, if any.
	cancel context.CancelFunc = func() {}
)

func main() {
	api := map[string]any{
		"tokenize":  js.FuncOf(tokenize),
		"loadWeb":   js.FuncOf(loadWeb),
		"loadBlob":  js.FuncOf(loadBlob),
		"convert":   js.FuncOf(convert),
		"check":     js.FuncOf(check),
		"start":     js.FuncOf(start),
		"startHalf": js.FuncOf(startHalf),
		"join":      js.FuncOf(join),
		"sweep":     js.FuncOf(sweep),
		"cancel":    js.FuncOf(func(js.Value, []js.Value) any { cancel(); return nil }),
		"forget":    js.FuncOf(func(js.Value, []js.Value) any { engine.Forget(); return nil }),
		"record":    js.FuncOf(record),
		"inspect":   js.FuncOf(inspectRun),
		"lensTop1":  js.FuncOf(lensTop1),
		"pairs":     js.FuncOf(pairs),
		"runPair":   js.FuncOf(runPair),
		"memory":    js.FuncOf(memory),
		"crash":     js.FuncOf(crash),

		// Attribution patching (atp_js.go).
		"atp":        js.FuncOf(atpEstimates),
		"atpNeurons": js.FuncOf(atpNeurons),
		"atpTop":     js.FuncOf(atpTop),
	}
	api["reportKit"] = js.FuncOf(reportKit) // report_js.go
	js.Global().Set("patchlab", js.ValueOf(api))
	select {}
}

// tokenize(requestJSON) → Promise<tokensJSON>. What is wrong with the
// request is part of the result (its "error"), not a failure.
func tokenize(_ js.Value, args []js.Value) any {
	text := args[0].String()
	return promise(KindInternal, func() (any, error) {
		var req analysis.Request
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			return nil, err
		}
		return toJSON(engine.Tokenize(req))
	})
}

// loadWeb(manifestJSON, fetchShard(file) → Promise<Uint8Array>, phases) → Promise<infoJSON>.
// fetchShard resolves with bytes whose sha256 it has checked against the
// manifest (natively, in seconds less than Go's sha256 in WebAssembly);
// the engine checks their sizes. phases, if an object, gets the ms spent copying shards into Go ("copy")
// and building the model from them ("decode").
func loadWeb(_ js.Value, args []js.Value) any {
	manifest, fetch := args[0].String(), args[1]
	phases := js.Undefined()
	if len(args) > 2 && args[2].Type() == js.TypeObject {
		phases = args[2]
	}
	return promise(KindBadWeights, func() (any, error) {
		var waited, copied time.Duration
		t0 := time.Now()
		info, err := engine.LoadWebHashed([]byte(manifest), func(file string) ([]byte, error) {
			t := time.Now()
			v, err := await(fetch.Invoke(file))
			waited += time.Since(t)
			if err != nil {
				return nil, err
			}
			t = time.Now()
			defer func() { copied += time.Since(t) }()
			return bytesOf(v), nil
		})
		if phases.Truthy() {
			phases.Set("copy", copied.Seconds()*1000)
			phases.Set("decode", (time.Since(t0)-waited-copied).Seconds()*1000)
		}
		if err != nil {
			return nil, err
		}
		return toJSON(info)
	})
}

// loadBlob(readAt(offset, length) → Uint8Array, size, name, configJSON|null) → Promise<infoJSON>:
// a safetensors checkpoint in float32.
func loadBlob(_ js.Value, args []js.Value) any {
	r, size, name, config := readerAt{args[0]}, int64(args[1].Float()), args[2].String(), optBytes(args[3])
	return promise(KindBadWeights, func() (any, error) {
		info, err := engine.LoadSafetensors(r, size, name, config)
		if err != nil {
			return nil, err
		}
		return toJSON(info)
	})
}

// check(readAt, size, name, configJSON|null) → Promise<configJSON>: reads a
// safetensors file's header only and checks that it is a GPT-2 checkpoint.
func check(_ js.Value, args []js.Value) any {
	r, size, name, config := readerAt{args[0]}, int64(args[1].Float()), args[2].String(), optBytes(args[3])
	return promise(KindBadWeights, func() (any, error) {
		c, err := Check(r, size, name, config)
		if err != nil {
			return nil, err
		}
		return toJSON(c)
	})
}

// convert(readAt, size, name, configJSON|null, outDir, progress(done, total)) → Promise:
// writes the web format to outDir of the worker's in-memory file system.
func convert(_ js.Value, args []js.Value) any {
	r, size, name, config := readerAt{args[0]}, int64(args[1].Float()), args[2].String(), optBytes(args[3])
	out, progress := args[4].String(), args[5]
	return promise(KindBadWeights, func() (any, error) {
		last := time.Time{}
		err := Convert(context.Background(), r, size, name, config, out, func(done, total int64) {
			if now := time.Now(); done == total || now.Sub(last) > 100*time.Millisecond {
				last = now
				progress.Invoke(float64(done), float64(total))
			}
		})
		return nil, err
	})
}

// start(requestJSON) → Promise<baselineJSON>; rejects with kind "input"
// (an invalid request) or "no_model".
func start(_ js.Value, args []js.Value) any {
	text := args[0].String()
	return promise(KindInternal, func() (any, error) {
		var req analysis.Request
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			return nil, err
		}
		b, err := engine.Start(req)
		if err != nil {
			return nil, err
		}
		return toJSON(b)
	})
}

// startHalf(requestJSON, run) → Promise<Uint8Array>: one text of the
// request run ("clean" or "corrupted"), kept for join, as bytes for the
// worker running the other; rejects as start.
func startHalf(_ js.Value, args []js.Value) any {
	text, which := args[0].String(), args[1].String()
	return promise(KindInternal, func() (any, error) {
		var req analysis.Request
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			return nil, err
		}
		b, err := engine.StartHalf(req, which)
		if err != nil {
			return nil, err
		}
		u := js.Global().Get("Uint8Array").New(len(b))
		js.CopyBytesToJS(u, b)
		return u, nil
	})
}

// join(requestJSON, Uint8Array) → Promise<baselineJSON>: the analysis
// startHalf began, completed with the other text's run.
func join(_ js.Value, args []js.Value) any {
	text := args[0].String()
	other := make([]byte, args[1].Length())
	js.CopyBytesToGo(other, args[1])
	return promise(KindInternal, func() (any, error) {
		var req analysis.Request
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			return nil, err
		}
		b, err := engine.Join(req, other)
		if err != nil {
			return nil, err
		}
		return toJSON(b)
	})
}

// sweep(site, probs, rows, onRow(r, Uint8Array), delayMs, direction) → Promise<"done"|"cancelled">
// delayMs (a debugging aid for tests) waits that long after each row;
// direction is "denoise" (undefined: the same) or "noise". A cancelled
// sweep resolves ("cancelled"): stopping is no failure.
func sweep(_ js.Value, args []js.Value) any {
	site, probs, onRow := args[0].String(), args[1].Bool(), args[3]
	dir := "denoise"
	if len(args) > 5 && args[5].Type() == js.TypeString {
		dir = args[5].String()
	}
	rows := make([]int, args[2].Length())
	for i := range rows {
		rows[i] = args[2].Index(i).Int()
	}
	delay := time.Duration(args[4].Float() * float64(time.Millisecond))
	cancel() // a sweep still winding down stops at its next check
	ctx, stop := context.WithCancel(context.Background())
	cancel = stop
	return promise(KindInternal, func() (any, error) {
		defer stop()
		err := engine.Sweep(&yielding{Context: ctx}, site, dir, probs, rows, func(r int, cells []patch.Cell) {
			b := EncodeCells(cells)
			u := js.Global().Get("Uint8Array").New(len(b))
			js.CopyBytesToJS(u, b)
			onRow.Invoke(r, u)
			if delay > 0 {
				time.Sleep(delay)
			}
		})
		if errors.Is(err, context.Canceled) {
			return "cancelled", nil
		}
		if err != nil {
			return nil, err
		}
		return "done", nil
	})
}

// record([{site, cells: Uint8Array, direction}], metric) → Promise<recordJSON>: the
// JSON of analysis.Record of the started analysis.
func record(_ js.Value, args []js.Value) any {
	type sweep struct {
		site, dir string
		cells     []byte
	}
	in := make([]sweep, args[0].Length())
	for i := range in {
		v := args[0].Index(i)
		in[i] = sweep{site: v.Get("site").String(), cells: bytesOf(v.Get("cells"))}
		if d := v.Get("direction"); d.Type() == js.TypeString {
			in[i].dir = d.String()
		}
	}
	metric := args[1].String()
	return promise(KindInternal, func() (any, error) {
		var sweeps []SiteCells
		for _, s := range in {
			cells, err := DecodeCells(s.cells)
			if err != nil {
				return nil, err
			}
			sweeps = append(sweeps, SiteCells{Site: s.site, Direction: s.dir, Cells: cells})
		}
		b, err := engine.Record(sweeps, metric)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	})
}

// inspect(requestJSON, run) → Promise<{views: runViewsJSON, attn: Uint8Array}>:
// one run ("clean" or "corrupted") of the started analysis, which must be
// the request's, looked inside (inspect.go); "cancelled" if other texts
// were started since.
func inspectRun(_ js.Value, args []js.Value) any {
	text, run := args[0].String(), args[1].String()
	return promise(KindInternal, func() (any, error) {
		var req analysis.Request
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			return nil, err
		}
		v, attn, err := engine.Inspect(req, run)
		if err != nil {
			return nil, err
		}
		views, err := toJSON(v)
		if err != nil {
			return nil, err
		}
		u := js.Global().Get("Uint8Array").New(len(attn))
		js.CopyBytesToJS(u, attn)
		return js.ValueOf(map[string]any{"views": views, "attn": u}), nil
	})
}

// lensTop1(requestJSON, run, row) → Promise<lensRowJSON>: the top-1 tokens
// of one row of the lens, as inspect.
func lensTop1(_ js.Value, args []js.Value) any {
	text, run, row := args[0].String(), args[1].String(), args[2].Int()
	return promise(KindInternal, func() (any, error) {
		var req analysis.Request
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			return nil, err
		}
		r, err := engine.LensTop1(req, run, row)
		if err != nil {
			return nil, err
		}
		return toJSON(r)
	})
}

// pairs(sourceJSON) → Promise<[SetPair] JSON>: a set's pairs read from
// JSONL or generated (design.go's PairsSource), each checked; rejects with
// kind "input" (field "pairs") when there are none.
func pairs(_ js.Value, args []js.Value) any {
	text := args[0].String()
	return promise(KindInternal, func() (any, error) {
		var src PairsSource
		if err := json.Unmarshal([]byte(text), &src); err != nil {
			return nil, err
		}
		ps, err := engine.Pairs(src)
		if err != nil {
			return nil, err
		}
		return toJSON(ps)
	})
}

// runPair(jobJSON, optionsJSON, onRow(cells)) → Promise<RunResult JSON | "cancelled">:
// one run of a set (design.go). cancel() stops it like a sweep.
func runPair(_ js.Value, args []js.Value) any {
	jobText, optText, onRow := args[0].String(), args[1].String(), args[2]
	cancel()
	ctx, stop := context.WithCancel(context.Background())
	cancel = stop
	return promise(KindInternal, func() (any, error) {
		defer stop()
		var job RunJob
		var opt RunOptions
		if err := json.Unmarshal([]byte(jobText), &job); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(optText), &opt); err != nil {
			return nil, err
		}
		res, err := engine.RunPair(&yielding{Context: ctx}, job, opt, func(cells int) { onRow.Invoke(cells) })
		if errors.Is(err, context.Canceled) {
			return "cancelled", nil
		}
		if err != nil {
			return nil, err
		}
		return toJSON(res)
	})
}

// memory() → {sys, heap}: bytes the Go runtime holds and the live heap.
func memory(js.Value, []js.Value) any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return js.ValueOf(map[string]any{"sys": float64(ms.Sys), "heap": float64(ms.HeapAlloc)})
}

// hoard keeps what crash("oom") allocates.
var hoard [][]byte

// crash(kind) makes the engine fail as a bug or a lack of memory would, for
// the page's fault tests: "panic", an unrecovered panic; "oom", allocating
// until the WebAssembly memory cannot grow any more. Either way the Go
// program exits, and the worker reports it (see site/worker.js).
func crash(_ js.Value, args []js.Value) any {
	kind := args[0].String()
	go func() {
		if kind == "oom" {
			for {
				hoard = append(hoard, make([]byte, 64<<20))
			}
		}
		panic("patchlab: a crash asked for by a test (" + kind + ")")
	}()
	return nil
}

// yielding is a context whose Err, which a sweep calls between rows and
// between blocks, lets the worker's event loop run every few tens of
// milliseconds: that is when a "cancel" message reaches the worker. Go on
// js/wasm is one thread, so without it the message would wait for the
// sweep's end.
type yielding struct {
	context.Context
	next time.Time
}

const yieldEvery = 40 * time.Millisecond

func (y *yielding) Err() error {
	if now := time.Now(); now.After(y.next) {
		await(js.Global().Call("plYield"))
		y.next = time.Now().Add(yieldEvery)
	}
	return y.Context.Err()
}

// readerAt reads a browser Blob through the worker's synchronous
// readAt(offset, length) → Uint8Array (FileReaderSync).
type readerAt struct{ read js.Value }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	v := r.read.Invoke(float64(off), len(p))
	if v.Type() == js.TypeString {
		return 0, errors.New(v.String())
	}
	n := js.CopyBytesToGo(p, v)
	if n < len(p) {
		return n, fmt.Errorf("short read: %d of %d bytes at offset %d", n, len(p), off)
	}
	return n, nil
}

// optBytes is a string argument's bytes, nil for null or undefined.
func optBytes(v js.Value) []byte {
	if v.Type() != js.TypeString {
		return nil
	}
	return []byte(v.String())
}

func bytesOf(v js.Value) []byte {
	b := make([]byte, v.Get("byteLength").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func toJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// promise runs f in a goroutine and returns a Promise of its result. An
// error rejects it with {kind, message, detail} (Classify; otherwise is
// the kind of an error it does not recognise).
func promise(otherwise string, f func() (any, error)) js.Value {
	var exec js.Func
	exec = js.FuncOf(func(_ js.Value, args []js.Value) any {
		exec.Release()
		resolve, reject := args[0], args[1]
		go func() {
			v, err := f()
			if err != nil {
				reject.Invoke(jsError(Classify(err, otherwise)))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(exec)
}

// jsError is e as a plain JavaScript object {kind, message, detail}.
func jsError(e *WireError) js.Value {
	detail := js.Null()
	if e.Detail != nil {
		if b, err := json.Marshal(e.Detail); err == nil {
			detail = js.Global().Get("JSON").Call("parse", string(b))
		}
	}
	return js.ValueOf(map[string]any{"kind": e.Kind, "message": e.Message, "detail": detail})
}

// await blocks the calling goroutine (never a callback's) until p settles.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: args[0]}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := args[0].String()
		if m := args[0].Get("message"); m.Type() == js.TypeString {
			msg = m.String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	r := <-ch
	return r.v, r.err
}
