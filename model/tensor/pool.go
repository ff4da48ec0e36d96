package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel products: the rows of M are cut into chunks, and the caller and
// a small pool of helper goroutines claim chunks from a shared counter until
// none are left. Every output is computed the same way whoever computes it,
// so the result does not depend on the split.
//
// The helpers (GOMAXPROCS-1 of them, started on first use) are persistent
// and spin, yielding to other goroutines, for helperSpin after each job
// before they park: a forward pass issues products back to back, and waking
// a parked thread costs tens of microseconds (up to ~100 µs measured under
// KVM), as much as a whole product. The caller never waits for a helper to
// show up, only for chunks a helper has already claimed, so a late or busy
// helper costs at most one chunk. With GOMAXPROCS = 1 (js/wasm) there are no
// helpers and no goroutines.

// parallelMinWork is the smallest product, in multiply-adds, that is split
// across goroutines (about 0.5 MFLOP, a few microseconds; measured: two
// threads already win there once the helpers are awake).
const parallelMinWork = 1 << 18

// helperSpin is how long an idle helper keeps looking for work before it
// parks.
const helperSpin = 200 * time.Microsecond

// chunkBudget is the size of one chunk of weight rows, in bytes.
const chunkBudget = 512 << 10

type job struct {
	fn           func(lo, hi int)
	total, chunk int
	nc           int64
	next, done   atomic.Int64
}

// run claims and computes chunks until none are left.
func (j *job) run() {
	for {
		c := j.next.Add(1) - 1
		if c >= j.nc {
			return
		}
		lo := int(c) * j.chunk
		j.fn(lo, min(lo+j.chunk, j.total))
		j.done.Add(1)
	}
}

var pool struct {
	gen     atomic.Uint64       // bumped for every job posted
	current atomic.Pointer[job] // the latest job
	parked  atomic.Int32        // helpers waiting on cond
	mu      sync.Mutex
	cond    *sync.Cond
	started atomic.Int32 // helpers started; grows under mu
}

func init() { pool.cond = sync.NewCond(&pool.mu) }

// forChunks calls fn(lo, hi) for the consecutive chunks [lo, hi) of
// [0, total), each at most chunk long (chunk > 0). When work (multiply-adds)
// is large enough and threads() > 1, helper goroutines take chunks too, in
// any order. fn must write disjoint outputs for disjoint chunks.
func forChunks(total, chunk, work int, fn func(lo, hi int)) {
	nc := (total + chunk - 1) / chunk
	p := min(threads(), nc)
	if p <= 1 || work < parallelMinWork {
		for lo := 0; lo < total; lo += chunk {
			fn(lo, min(lo+chunk, total))
		}
		return
	}
	j := &job{fn: fn, total: total, chunk: chunk, nc: int64(nc)}
	if post(j, p-1) {
		// A helper just started or woke up. The scheduler queued it
		// to run next on this thread, so yield: it starts on the job
		// at once, and this goroutine resumes on an idle processor.
		runtime.Gosched()
	}
	j.run()
	for i := 0; j.done.Load() < j.nc; i++ {
		if i > 100 {
			runtime.Gosched()
		}
	}
	pool.current.CompareAndSwap(j, nil) // let go of x, y and the matrix
}

// post offers j to the helpers, starting more if fewer than want exist, and
// reports whether it had to start or wake any.
func post(j *job, want int) bool {
	pool.current.Store(j)
	pool.gen.Add(1)
	if pool.parked.Load() == 0 && int(pool.started.Load()) >= want {
		return false
	}
	pool.mu.Lock()
	for int(pool.started.Load()) < want {
		pool.started.Add(1)
		go helper(0)
	}
	pool.cond.Broadcast()
	pool.mu.Unlock()
	return true
}

func helper(seen uint64) {
	for {
		// Spin, yielding the processor, until a new job is posted or
		// helperSpin has passed; then park until one is.
		start := time.Now()
		for i := 0; pool.gen.Load() == seen; i++ {
			if i&63 == 63 && time.Since(start) > helperSpin {
				pool.parked.Add(1)
				pool.mu.Lock()
				for pool.gen.Load() == seen {
					pool.cond.Wait()
				}
				pool.mu.Unlock()
				pool.parked.Add(-1)
				break
			}
			runtime.Gosched()
		}
		seen = pool.gen.Load()
		if j := pool.current.Load(); j != nil {
			j.run()
		}
	}
}

// threads is how many goroutines a product may use.
func threads() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// chunkRows is how many weight rows of cols columns, of the given bytes per
// weight, make one chunk: about chunkBudget, so a chunk stays in L2 while
// every input row goes past it, and a multiple of 4 (the kernels' block).
func chunkRows(cols int, bytesPerWeight float64, total int) int {
	r := int(chunkBudget / (float64(max(cols, 1)) * bytesPerWeight))
	r = max(r&^3, 4)
	// Enough chunks to keep every thread busy on matrices smaller than
	// the budget times the thread count.
	if p := threads(); p > 1 {
		if per := (total/(4*p) + 3) &^ 3; per >= 4 && per < r {
			r = per
		}
	}
	return r
}

// Parallel runs fn over [lo, hi) chunks of [0, total), each at most chunk
// long, on the kernels' helper goroutines when work (in multiply-adds or
// their equivalent) is large enough to pay for them. fn must not care
// which goroutine runs which chunk.
func Parallel(total, chunk, work int, fn func(lo, hi int)) {
	forChunks(total, max(chunk, 1), work, fn)
}
