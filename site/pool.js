// The worker pool: N workers each holding the model, rows of a sweep handed
// to whichever worker is free in the order run.js gives (the rows
// interleave across workers), tokenization and exports on worker 0; how
// many workers, and growing the pool when more pay (workerCount,
// decideWorkers). Every call returns at once; results come back as
// callbacks or promises, and every failure as an EngineError (errors.js).
// The messages it exchanges with the workers are listed in PROTOCOL.md.
// Owns: its workers, the requests waiting for an answer, the run in
// progress (its queue of rows, its trace), the model's source (to load it
// in a replacement worker), the record of replaced workers and the growth.
// About 700 lines (with the views' and the sets' messages and the growth):
// one state machine (workers, requests, the run's queue, replacing the
// lost, adding workers when idle) whose parts change together; split, they
// would share all of it.

import { EngineError } from "./errors.js";

const MB = 1048576;

// How many workers: each holds the model (about 250 MB for GPT-2 small),
// so a worker that a free core does not run is memory spent for nothing.
// The pool starts with at most 2 and grows only when it pays: once the
// model is loaded and nothing runs, a probe measures how many cores are
// really free (the browser's count may be a guess: WebKit says 4 on any
// machine with fewer than 8 cores, and Chromium and Firefox count cores
// that other programs keep busy), and workers are added up to that, within
// the device's memory and at most MAX_WORKERS.
const MAX_WORKERS = 4;

// workerCount is how many workers to start with for a model of modelBytes
// (override: the address's workers=N, taken as it is).
export function workerCount(modelBytes, override) {
	if (override >= 1) return Math.min(Math.floor(override), 16);
	const b = workerBudget(modelBytes, 0);
	return Math.max(1, Math.min(2, b.cores || 2, b.byMemory));
}

// workerBudget is what bounds the pool on this device for a model of
// modelBytes whose workers were measured at perWorkerMB of memory each (0:
// not yet): cores, the cores the browser reports (null where its count is
// a guess); byMemory, how many workers its memory holds; perMB, a worker's
// memory with room for a sweep's activations; budgetMB, what the workers
// may take in all: half the memory the device says it has (only Chromium
// says, at most 8 GB), a quarter on a phone or tablet; where it does not
// say, 1 GB, 640 MB on a phone or tablet.
export function workerBudget(modelBytes, perWorkerMB, nav = navigator) {
	const ua = nav.userAgent || "";
	const webkit = /AppleWebKit\//.test(ua) && !/Chrom(e|ium)\/|Edg\//.test(ua);
	const hc = nav.hardwareConcurrency || 0;
	const cores = hc >= 1 && !(webkit && hc < 8) ? hc : null;
	const mobile = /Mobi|Android|iPhone|iPad/.test(ua);
	const budgetMB = nav.deviceMemory ? nav.deviceMemory * (mobile ? 256 : 512) : mobile ? 640 : 1024;
	// Measured on GPT-2 small after a sweep (weights, activations, the Go
	// heap's slack): 263 MB of wasm memory per worker for 140 MB of 9-bit
	// weights, 377 MB for 233 MB of 15-bit ones.
	const perMB = Math.round(Math.max(1.25 * perWorkerMB, (1.6 * modelBytes) / MB + 60));
	return { cores, byMemory: Math.max(1, Math.floor(budgetMB / perMB)), perMB, budgetMB };
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// decideWorkers is how many workers pay, and why in a sentence, for a pool
// of current workers under budget (workerBudget's), from a probe: t1, the
// probe loop's time in one worker alone, and together, its times in k
// workers started at once (absent: no probe ran). k loops on f < k free
// cores all end after about k/f times one alone, so f ≈ k·t1/max(together);
// a worker pays when it gets at least two thirds of a core. The pool never
// shrinks here: the workers it has are loaded already.
export function decideWorkers({ current, cores, byMemory, perMB, t1, together }) {
	const limit = Math.min(MAX_WORKERS, cores || MAX_WORKERS, byMemory);
	const n = (k) => plural(k, "worker");
	const memory = `more would need more memory than this device can spare (about ${perMB} MB each)`;
	if (limit <= current) {
		const why = byMemory <= current ? memory : cores && cores <= current ? `this device has ${plural(cores, "core")}` : `the page runs at most ${MAX_WORKERS}`;
		return { count: current, free: null, why: `${n(current)}: ${why}.` };
	}
	if (!together || !together.length || !(t1 > 0)) return { count: current, free: null, why: `${n(current)}: whether more would be faster could not be measured.` };
	const k = together.length;
	const free = Math.min(k, (k * t1) / Math.max(...together));
	const pays = Math.floor(free + 1 / 3);
	const count = Math.max(current, Math.min(limit, pays));
	const found = `a quick measurement found about ${free.toFixed(1)} cores free${cores ? "" : " (the browser does not say how many this device has)"}`;
	if (count > current) return { count, free, why: `${n(count)}: ${found}${count < pays ? `; ${memory}` : ""}.` };
	if (pays > current) return { count, free, why: `${n(count)}: ${found}, but ${memory}.` };
	return { count, free, why: `${n(count)}: ${found}, so more would not be faster.` };
}

// probeCores measures how many of k cores are free: k throw-away workers
// (probe.js) spin a fixed loop, one alone, then all at once, twice over.
// Each time runs from the message that starts a loop to its answer, here
// (a loop measured inside its worker would not count the time it waited for
// a core). Resolves with {t1, together} (ms: the faster alone, each run
// after a round together, and the round together that ended later: both
// err towards fewer workers, and a loop that a JIT still speeds up over the
// first runs — seen in WebKit, 3.8 "free" cores on 2 — cannot pass for
// free cores), or null when signal (an AbortSignal)
// aborts, which ends the workers at once, or when they fail. A few tenths
// of a second.
export async function probeCores(k, signal) {
	const workers = [];
	const aborted = new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("stopped")), { once: true }));
	aborted.catch(() => {});
	const spin = (ws, n) => Promise.race([
		aborted,
		new Promise((_, reject) => setTimeout(() => reject(new Error("the probe took too long")), 10000)),
		Promise.all(ws.map((w, i) => new Promise((resolve, reject) => {
			const t0 = performance.now();
			w.onmessage = () => resolve(performance.now() - t0);
			w.onerror = (ev) => {
				ev.preventDefault();
				reject(new Error("the probe failed"));
			};
			w.postMessage({ n, seed: i });
		}))),
	]);
	try {
		if (signal.aborted) return null;
		for (let i = 0; i < k; i++) workers.push(new Worker("probe.js"));
		// Warm up (every worker started, its loop compiled) and size the loop to about 40 ms.
		const n0 = 1 << 22;
		const warm = await spin(workers, n0);
		const n = Math.round(Math.min(1 << 28, Math.max(n0, (n0 * 40) / Math.max(1, Math.min(...warm)))));
		let t1 = Infinity, together = null;
		for (let round = 0; round < 2; round++) {
			const all = await spin(workers, n);
			if (!together || Math.max(...all) > Math.max(...together)) together = all;
			t1 = Math.min(t1, (await spin(workers.slice(0, 1), n))[0]);
		}
		return { t1, together };
	} catch {
		return null;
	} finally {
		for (const w of workers) w.terminate();
	}
}

let spawned = 0;

// spawn starts a worker. onMessage gets its messages; onDeath(reason) is
// called once if it ends by itself: the Go engine exited (a panic, no
// memory left), an uncaught error, the engine did not start, or the
// worker closed without a word (seen through the Web Lock it holds, see
// worker.js). stop() ends it without a call.
function spawn(onMessage, onDeath) {
	const name = `patchlab-worker-${Date.now().toString(36)}-${++spawned}-${Math.random().toString(36).slice(2)}`;
	const w = new Worker("worker.js", { name });
	let over = false;
	const die = (reason) => {
		if (over) return;
		over = true;
		w.terminate();
		onDeath(reason);
	};
	w.onmessage = (ev) => {
		const m = ev.data;
		if (over) return;
		if (m.type === "alive") {
			// The worker holds its lock: it is granted to us when the worker ends.
			if (navigator.locks) navigator.locks.request(name, () => die("the worker ended")).catch(() => {});
		} else if (m.type === "exited") {
			die(m.message);
		} else if (m.type === "fatal") {
			die(m.message);
		} else {
			onMessage(m);
		}
	};
	w.onerror = (ev) => {
		ev.preventDefault();
		die(ev.message ? `an uncaught error (${ev.message})` : "the worker failed to start");
	};
	return {
		post: (msg, transfer) => { if (!over) w.postMessage(msg, transfer || []); },
		stop: () => { over = true; w.terminate(); },
	};
}

class PoolWorker {
	constructor(pool, index) {
		this.pool = pool;
		this.index = index;
		this.ready = false; // a model is loaded
		this.lost = false; // it ended (or was ended)
		this.started = 0; // the run whose analysis it holds
		this.job = null; // the job it is sweeping
		this.memory = null;
		this.life = spawn((m) => pool.onMessage(this, m), (reason) => pool.lose(this, reason));
	}
	post(msg, transfer) {
		this.life.post(msg, transfer);
	}
	stop() {
		this.lost = true;
		this.life.stop();
	}
}

// A pool replaces at most this many lost workers a minute; beyond, it goes
// on with those left (a worker that dies on every start is not restarted forever).
const RESPAWNS_PER_MINUTE = 4;

export class Pool {
	constructor(events) {
		this.events = events; // {onProgress, onNote(text, {lost}), onWorkers, onFatal}
		this.workers = [new PoolWorker(this, 0)];
		this.pending = new Map(); // request id → {resolve, reject, worker}
		this.seq = 0;
		this.run = null;
		this.source = null;
		this.info = null;
		this.target = 1;
		this.respawns = []; // when workers were replaced
		this.over = false; // terminated
		this.storeFault = null; // for tests: Cache Storage fails in the workers, see worker.js
		// A guest hands out jobs of its own to the workers (promptset.js's
		// set runs): {onMessage(w, m), onLost(w), onReady(w)}; it gets the
		// messages the pool does not know, and hears of workers lost and ready.
		this.guest = null;
		// Growing (see MAX_WORKERS): null, or {modelBytes, state: "waiting" |
		// "probing" | "done", why (the sentence status() gives), probe (the
		// AbortController of the probe running), timer}.
		this.growth = null;
	}

	// grow measures, once every worker has the model and nothing runs,
	// whether more workers would be faster on this device, and adds them if
	// so (workerBudget, probeCores, decideWorkers). Call it once a model of
	// modelBytes is loaded; asked: the count was asked for (workers=N in the
	// address), then it stays.
	grow(modelBytes, asked) {
		const n = this.target;
		this.growth = { modelBytes, state: asked ? "done" : "waiting", why: asked ? `${plural(n, "worker")}, as the address asks (workers=${n}).` : null, probe: null, timer: 0 };
		this.maybeGrow();
	}

	// growWith decides and grows from the measurements given instead of a
	// probe's (tests: a fixed measurement; see decideWorkers).
	growWith(measured) {
		const g = this.growth || (this.growth = { modelBytes: this.info ? this.info.bytes : 0, state: "waiting", why: null, probe: null, timer: 0 });
		this.stopProbe();
		this.decideGrowth(g, measured);
	}

	// idle: every worker has the model and none computes or is asked anything.
	idle() {
		return !this.run && this.pending.size === 0 && this.workers.length > 0 && this.workers.every((w) => w.ready && !w.job && !w.setJob);
	}

	maybeGrow() {
		const g = this.growth;
		if (!g || g.state !== "waiting" || this.over) return;
		clearTimeout(g.timer);
		if (!this.idle()) {
			g.timer = setTimeout(() => this.maybeGrow(), 2000); // look again later
			return;
		}
		const budget = this.budget(g);
		const k = Math.min(MAX_WORKERS, budget.cores || MAX_WORKERS, budget.byMemory);
		if (k <= this.workers.length) {
			this.decideGrowth(g, {}); // nothing to measure: the cores or the memory say no
			return;
		}
		g.state = "probing";
		g.probe = new AbortController();
		probeCores(k, g.probe.signal).then((m) => {
			if (this.growth !== g || g.state !== "probing") return;
			g.probe = null; // (one stopped by a run is "waiting" again: see stopProbe)
			if (m && !this.idle()) {
				g.state = "waiting"; // something else ran meanwhile: measure again when idle
				g.timer = setTimeout(() => this.maybeGrow(), 2000);
				return;
			}
			this.decideGrowth(g, m || {}); // failed: no more workers
		});
	}

	budget(g) {
		const mem = Math.max(0, ...this.workers.map((w) => (w.memory && w.memory.wasm) || 0));
		return workerBudget(g.modelBytes, mem);
	}

	decideGrowth(g, m) {
		const d = decideWorkers({ current: this.workers.length, ...this.budget(g), ...m });
		g.state = "done";
		g.why = d.why;
		for (let i = this.workers.length; i < d.count; i++) {
			const w = new PoolWorker(this, i);
			this.workers.push(w);
			this.target = Math.max(this.target, this.workers.length);
			this.loadWorker(w).catch((e) => this.events.onNote(`Worker ${i + 1} could not load the model (${e.message}); going on with fewer.`));
		}
		this.events.onWorkers(this.status());
	}

	// stopProbe ends a probe in progress (a run starts): it is done again
	// once the pool is idle.
	stopProbe() {
		const g = this.growth;
		if (g && g.probe) {
			g.probe.abort();
			g.probe = null;
			g.state = "waiting";
			clearTimeout(g.timer);
			g.timer = setTimeout(() => this.maybeGrow(), 2000);
		}
	}

	request(worker, msg, transfer) {
		const id = ++this.seq;
		this.stopProbe();
		return new Promise((resolve, reject) => {
			if (!worker) {
				reject(new EngineError("worker_lost", "no worker is running: reload the page"));
				return;
			}
			this.pending.set(id, { resolve, reject, worker });
			worker.post({ ...msg, id }, transfer);
		});
	}

	// settle answers request id: with value, or with error (a wire error).
	settle(id, value, error) {
		const p = this.pending.get(id);
		if (!p) return;
		this.pending.delete(id);
		error ? p.reject(EngineError.from(error)) : p.resolve(value);
	}

	// terminate stops every worker; pending requests fail.
	terminate() {
		this.over = true;
		this.run = null;
		this.stopProbe();
		if (this.growth) clearTimeout(this.growth.timer);
		for (const w of this.workers) w.stop();
		this.workers = [];
		for (const p of this.pending.values()) p.reject(new EngineError("cancelled", "the workers were replaced"));
		this.pending.clear();
	}

	// primary is the worker for tokenizing and exports: the first with the
	// model, else the first.
	primary() {
		return this.workers.find((w) => w.ready) || this.workers[0];
	}

	tokenize(req) {
		return this.request(this.primary(), { type: "tokenize", req });
	}

	// load loads the model in worker 0 (which fills the cache), then in the
	// others, count of them in all (started meanwhile); in all at once when
	// together (nothing to download: the weights are in this browser's
	// cache, in memory or a file). Resolves with worker 0's "loaded" message.
	async load(source, count, together = false) {
		this.source = source;
		this.target = count;
		const others = [];
		for (let i = 1; i < count; i++) others.push(new PoolWorker(this, i));
		this.workers.push(...others);
		// Loading together, the workers share the reading (worker.js): each
		// gets a MessagePort to every other.
		const peers = this.workers.map(() => []);
		for (let i = 0; together && i < count; i++) {
			for (let j = i + 1; j < count; j++) {
				const ch = new MessageChannel();
				peers[i].push(ch.port1);
				peers[j].push(ch.port2);
			}
		}
		const group = together && count > 1 ? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}` : null;
		const loadOthers = () => {
			for (const w of others.filter((x) => !x.lost)) this.loadWorker(w, { group, peers: peers[w.index] }).catch((e) => this.events.onNote(`Worker ${w.index + 1} could not load the model (${e.message}); going on with fewer.`));
		};
		const loading = this.loadWorker(this.workers[0], { group, peers: peers[0] });
		if (together) loadOthers();
		const first = await loading;
		this.info = first.info;
		if (!together) loadOthers();
		this.events.onWorkers(this.status());
		return first;
	}

	loadWorker(w, { group = null, peers = [] } = {}) {
		return new Promise((resolve, reject) => {
			w.onLoaded = (msg) => {
				w.ready = true;
				w.onLoadError = null;
				w.memory = msg.memory;
				w.phases = msg.phases;
				this.events.onWorkers(this.status());
				this.joinRun(w);
				if (this.guest) this.guest.onReady(w);
				this.maybeGrow();
				resolve(msg);
			};
			w.onLoadError = (e) => {
				w.onLoadError = null;
				reject(e);
			};
			w.post({ type: "load", source: this.source, storeFault: this.storeFault, group, peers }, peers);
		});
	}

	// lose replaces a worker that ended by itself: its pending requests
	// fail, its row goes back to the queue of the run, and a new worker
	// loads the model (from this browser's cache) and joins the run. One
	// that ran out of memory is not replaced while others are left: the
	// pool goes on with fewer.
	lose(w, reason) {
		if (w.lost) return;
		w.lost = true;
		w.life.stop();
		const i = this.workers.indexOf(w);
		if (this.over || i < 0) return;
		const name = `Worker ${w.index + 1}`;
		if (this.guest) this.guest.onLost(w);
		for (const [id, p] of this.pending) {
			if (p.worker !== w) continue;
			this.pending.delete(id);
			p.reject(new EngineError("worker_lost", `${name} stopped: ${reason}`));
		}
		const run = this.run;
		const busy = !!(run && ((w.job && w.job.run === run.id) || w.started === -run.id));
		if (run && run.halves.has(w)) {
			// Its partner runs both texts itself unless this one's run reached it.
			const other = run.halves.get(w)[1];
			if (!run.sent.has(w) && !other.lost && other.started === -run.id) other.post({ type: "start", run: run.id, req: run.req, fresh: false });
			run.halves.delete(w);
			run.halves.delete(other);
		}
		if (w.job && run && w.job.run === run.id) {
			run.active--;
			run.queue.unshift(w.job.spec); // the row it was on, computed again
		}
		w.job = null;
		const now = performance.now();
		this.respawns = this.respawns.filter((t) => now - t < 60000);
		const others = this.workers.filter((x) => x !== w && !x.lost);
		const oom = /out of memory/.test(reason);
		const budget = this.respawns.length < RESPAWNS_PER_MINUTE;
		// With a model: a replacement that loads it, unless memory is short and
		// others go on. Without one: a replacement only if none is left, for the tokenizer.
		const replace = budget && (others.length === 0 || (this.info && !(oom && others.some((x) => x.ready))));
		// A load it was doing fails, unless its replacement does it.
		if (w.onLoadError && !(replace && this.info)) w.onLoadError(new EngineError("worker_lost", `${name} stopped: ${reason}`));
		let text;
		if (replace) {
			this.respawns.push(now);
			const nw = new PoolWorker(this, w.index);
			this.workers[i] = nw;
			if (this.info) {
				this.loadWorker(nw).catch((e) => this.events.onNote(`The new worker ${w.index + 1} could not load the model (${e.message}).`));
				text = `${name} stopped (${reason}); a new worker is loading the model${busy ? " and takes over its work" : ""}.`;
			} else {
				text = `${name} stopped (${reason}); a new one was started.`;
			}
		} else {
			this.workers.splice(i, 1);
			if (oom) this.target = Math.max(1, this.target - 1);
			this.target = Math.min(this.target, Math.max(1, this.workers.length));
			const n = this.workers.length;
			text = n ? `${name} stopped (${reason}); going on with ${n} worker${n > 1 ? "s" : ""}.` : `Every worker stopped (${reason}): reload the page.`;
		}
		this.events.onNote(text, { lost: true });
		this.events.onWorkers(this.status());
		if (!this.workers.length) {
			this.events.onFatal(text);
			this.cancel("error", new EngineError("worker_lost", text));
			return;
		}
		if (this.run) for (const x of this.workers) this.dispatch(x);
	}

	// oneShot runs one message in a worker of its own, terminated after
	// (giving its memory back): resolves with the answer of type done, or
	// rejects with the worker's error or its end.
	oneShot(msg, done) {
		return new Promise((resolve, reject) => {
			const life = spawn((m) => {
				if (m.type === "progress") this.events.onProgress(m);
				else if (m.type === "note") this.events.onNote(m.message);
				else if (m.type === done) { life.stop(); resolve(m); }
				else if (m.type === "error") { life.stop(); reject(EngineError.from(m.error)); }
			}, (reason) => reject(new EngineError("worker_lost", `the worker stopped: ${reason}`)));
			life.post({ ...msg, storeFault: this.storeFault });
		});
	}

	// convert runs a safetensors Blob through a converter worker of its own;
	// resolves with {manifest, unkept, shards}: unkept says why this browser
	// could not keep the converted weights (null: they are kept), and shards
	// are then their bytes (a Map sha256 → Uint8Array) for the workers.
	async convert(blob, config) {
		const m = await this.oneShot({ type: "convert", blob, config }, "converted");
		return { manifest: m.manifest, unkept: m.unkept || null, shards: m.shards || null };
	}

	// check reads a safetensors Blob's header in a worker of its own:
	// rejects unless it is a GPT-2 checkpoint.
	async check(blob, config) {
		await this.oneShot({ type: "check", blob, config }, "checked");
	}

	// debug makes worker i fail in one of the ways worker.js's debug handler knows.
	debug(i, kind) {
		const w = this.workers[i];
		if (!w) throw new Error(`no worker ${i}`);
		w.post({ type: "debug", kind });
	}

	status() {
		return {
			// Why this many (decideWorkers): a sentence once the pool decided, null before.
			why: this.growth && this.growth.why,
			ready: this.workers.filter((w) => w.ready).length,
			busy: this.workers.filter((w) => w.job).length,
			total: Math.max(this.target, this.workers.length),
			memory: this.workers.map((w) => w.memory),
			phases: this.workers.map((w) => w.phases), // where each one's load went (worker.js)
		};
	}

	// pairs reads or generates a prompt set's pairs (PROTOCOL.md: pairs).
	pairs(source) {
		return this.request(this.primary(), { type: "pairs", source });
	}

	record(req, sweeps, metric) {
		return this.request(this.workers.find((w) => w.ready), { type: "record", req, sweeps, metric });
	}

	// reportKit resolves with the report kit of the texts req as a zip
	// (Uint8Array): kit is the engine's KitRequest ({view, metric,
	// record_metric}), figures [{name, bytes: Uint8Array}] (reportkit.js).
	reportKit(req, sweeps, kit, figures) {
		return this.request(this.workers.find((w) => w.ready), { type: "reportKit", req, sweeps, kit, figures });
	}

	// inspect resolves with one run ("clean" or "corrupted") of the texts
	// req looked inside: {views (the engine's RunViews), attn (Float32Array
	// [L][H][T][T])}. lensTop1 with one row of the lens's top-1 tokens
	// ({run, row, ids, tokens}), computed by ready worker slot (modulo their
	// number), so that rows go to several workers at once.
	inspect(req, run) {
		return this.request(this.workers.find((w) => w.ready), { type: "inspect", req, run });
	}

	lensTop1(req, run, row, slot = 0) {
		const ready = this.workers.filter((w) => w.ready);
		return this.request(ready[slot % Math.max(1, ready.length)], { type: "lensTop1", req, run, row });
	}

	// Attribution patching of the texts req (PROTOCOL.md), on the first ready worker.
	atp(req, top) {
		return this.request(this.workers.find((w) => w.ready), { type: "atp", req, top });
	}

	atpNeurons(req, top) {
		return this.request(this.workers.find((w) => w.ready), { type: "atpNeurons", req, top });
	}

	atpTop(req, site, k) {
		return this.request(this.workers.find((w) => w.ready), { type: "atpTop", req, site, k });
	}

	memory() {
		return Promise.all(this.workers.filter((w) => w.ready).map((w) => this.request(w, { type: "memory" })));
	}

	// start runs a sweep: jobs are {site, r, cost}, in the order to hand them
	// out. opts: {probs, delayMs, fresh (run the two texts again even if a
	// worker has them), split (two workers run one text each and swap the
	// runs: PROTOCOL.md, start)}. cb: {onBaseline(b), onRow(site, r, cells),
	// onDone(status: "done"|"cancelled"|"error", error: EngineError|null)}.
	start(req, jobs, opts, cb) {
		if (this.run) this.cancel();
		this.stopProbe();
		const ready = this.workers.filter((w) => w.ready);
		// halves: ready workers in pairs, each worker → [the text it runs, the
		// one running the other]; a worker outside runs both.
		const halves = new Map();
		for (let i = 0; opts.split && i + 1 < ready.length; i += 2) {
			halves.set(ready[i], ["clean", ready[i + 1]]);
			halves.set(ready[i + 1], ["corrupted", ready[i]]);
		}
		const run = { id: ++this.seq, req, halves, sent: new Set(), queue: jobs.slice(), probs: !!opts.probs, direction: opts.direction || "denoise", delayMs: opts.delayMs || 0, fresh: !!opts.fresh, cb, active: 0, baseline: null, over: false, t0: opts.t0 || performance.now(), trace: [] };
		this.lastTrace = run.trace;
		this.run = run;
		for (const w of this.workers) this.joinRun(w);
		return run.id;
	}

	// mark notes when something happened to a run, for timings().trace.
	mark(run, w, what) {
		run.trace.push([Math.round(performance.now() - run.t0), w.index, what]);
	}

	joinRun(w) {
		const run = this.run;
		if (!run || run.over || !w.ready || w.started === run.id) return;
		w.started = -run.id; // starting
		const half = run.halves.has(w) ? run.halves.get(w)[0] : undefined;
		this.mark(run, w, half ? `start ${half}` : "start");
		w.post({ type: "start", run: run.id, req: run.req, fresh: run.fresh, half });
	}

	dispatch(w) {
		const run = this.run;
		if (!run || run.over || w.job || w.started !== run.id) return;
		const job = run.queue.shift();
		if (!job) {
			this.maybeDone(run);
			return;
		}
		w.job = { spec: job, run: run.id };
		run.active++;
		this.mark(run, w, `sweep ${job.site} ${job.r}`);
		w.post({ type: "sweep", run: run.id, site: job.site, rows: [job.r], probs: run.probs, direction: run.direction, delayMs: run.delayMs });
	}

	maybeDone(run) {
		if (!run.over && run.queue.length === 0 && run.active === 0 && run.baseline) {
			run.over = true;
			this.run = null;
			run.cb.onDone("done");
			this.maybeGrow();
		}
	}

	// cancel stops the run: no more rows are handed out and the workers
	// stop the rows they are on at their next check (tens of ms). The run's
	// onDone gets status ("cancelled", or "error" with an EngineError).
	cancel(status = "cancelled", error = null) {
		const run = this.run;
		if (!run) return;
		run.over = true;
		run.queue = [];
		this.run = null;
		for (const w of this.workers) if (w.job && w.job.run === run.id) w.post({ type: "cancel" });
		run.cb.onDone(status, error);
	}

	onMessage(w, m) {
		const run = this.run;
		switch (m.type) {
		case "booted":
			return;
		case "progress":
			// The first load's (a replacement loads from the cache, unseen).
			if (w.index === 0 && !this.info) this.events.onProgress(m);
			return;
		case "note":
			this.events.onNote(m.message);
			return;
		case "loaded":
			w.onLoaded && w.onLoaded(m);
			return;
		case "tokens":
			this.settle(m.id, m.result);
			return;
		case "record":
			this.settle(m.id, m.json);
			return;
		case "reportKit":
			this.settle(m.id, m.zip);
			return;
		case "inspected":
			this.settle(m.id, { views: m.views, attn: m.attn });
			return;
		case "lensRow":
			this.settle(m.id, m.row);
			return;
		case "atp":
		case "atpNeurons":
		case "atpTop":
		case "pairs":
			this.settle(m.id, m.result);
			return;
		case "memory":
			w.memory = m.memory;
			this.settle(m.id, m.memory);
			return;
		case "started":
			if (!run || m.run !== run.id) return;
			if (m.error) {
				this.cancel("error", EngineError.from(m.error));
				return;
			}
			w.started = run.id;
			this.mark(run, w, "started");
			this.dispatch(w); // before the page draws the tables: the worker goes on meanwhile
			if (!run.baseline) {
				run.baseline = m.baseline;
				run.cb.onBaseline(m.baseline);
				this.maybeDone(run); // a run of the texts only
			}
			return;
		case "half": {
			// One text's run, for the worker running the other (which then joins).
			if (!run || m.run !== run.id || !run.halves.has(w)) return;
			this.mark(run, w, "half");
			run.sent.add(w);
			const other = run.halves.get(w)[1];
			if (!other.lost) other.post({ type: "join", run: run.id, req: run.req, bytes: m.bytes }, [m.bytes.buffer]);
			return;
		}
		case "row":
			if (run && m.run === run.id) {
				this.mark(run, w, `row ${m.site} ${m.r}`);
				run.cb.onRow(m.site, m.r, m.cells);
			}
			return;
		case "swept": {
			const job = w.job;
			w.job = null;
			if (run && job && job.run === run.id) {
				run.active--;
				if (m.error) {
					this.cancel("error", EngineError.from(m.error));
					return;
				}
			}
			if (this.run) this.dispatch(w);
			return;
		}
		case "error":
			if (m.of === "load" && w.onLoadError) {
				w.onLoadError(EngineError.from(m.error));
				return;
			}
			if (m.id) {
				this.settle(m.id, null, m.error);
				return;
			}
			this.events.onNote(`Worker ${w.index + 1}: ${m.error.message}`);
			return;
		default:
			if (this.guest) this.guest.onMessage(w, m);
		}
	}
}
