// The worker pool: N workers each holding the model, rows of a sweep handed
// to whichever worker is free (so row 0, the most expensive, starts first
// and the rows interleave across workers), tokenization and exports on
// worker 0. Every call returns at once; results come back as callbacks.

const MB = 1048576;

// workerCount picks how many workers to run for a model of modelBytes:
// the cores, at most 4, and as many as half the device's memory holds.
export function workerCount(modelBytes, override) {
	if (override >= 1) return Math.min(Math.floor(override), 16);
	const cores = navigator.hardwareConcurrency || 2;
	const memMB = (navigator.deviceMemory || 4) * 1024; // Chromium reports at most 8 GB
	// Measured: 185 MB of wasm memory per worker for GPT-2 small's 140 MB
	// of int8 weights once loaded, 240–280 MB after a sweep (activations,
	// the Go heap's slack).
	const perWorker = modelBytes * 1.6 + 60 * MB;
	const byMemory = Math.max(1, Math.floor((memMB * MB * 0.5) / perWorker));
	return Math.max(1, Math.min(cores, 4, byMemory));
}

class PoolWorker {
	constructor(pool, index) {
		this.pool = pool;
		this.index = index;
		this.w = new Worker("worker.js");
		this.ready = false; // a model is loaded
		this.started = 0; // the run whose analysis it holds
		this.job = null; // the job it is sweeping
		this.memory = null;
		this.w.onmessage = (ev) => pool.onMessage(this, ev.data);
		this.w.onerror = (ev) => pool.onMessage(this, { type: "fatal", message: ev.message || "the worker failed to start" });
	}
	post(msg, transfer) {
		this.w.postMessage(msg, transfer || []);
	}
}

export class Pool {
	constructor(events) {
		this.events = events; // {onProgress, onNote, onWorkers, onFatal}
		this.workers = [new PoolWorker(this, 0)];
		this.pending = new Map(); // request id → {resolve, reject}
		this.seq = 0;
		this.run = null;
		this.source = null;
		this.info = null;
		this.target = 1;
	}

	request(worker, msg, transfer) {
		const id = ++this.seq;
		return new Promise((resolve, reject) => {
			this.pending.set(id, { resolve, reject });
			worker.post({ ...msg, id }, transfer);
		});
	}

	settle(id, value, error) {
		const p = this.pending.get(id);
		if (!p) return;
		this.pending.delete(id);
		error ? p.reject(new Error(error)) : p.resolve(value);
	}

	// terminate stops every worker; pending requests fail.
	terminate() {
		this.run = null;
		for (const w of this.workers) w.w.terminate();
		this.workers = [];
		for (const p of this.pending.values()) p.reject(new Error("the workers were replaced"));
		this.pending.clear();
	}

	tokenize(req) {
		return this.request(this.workers[0], { type: "tokenize", req });
	}

	// load loads the model in worker 0 (which fills the cache), then in the
	// others, count of them in all. Resolves with worker 0's "loaded" message.
	async load(source, count) {
		this.source = source;
		this.target = count;
		const first = await this.loadWorker(this.workers[0]);
		this.info = first.info;
		for (let i = 1; i < count; i++) {
			const w = new PoolWorker(this, i);
			this.workers.push(w);
			this.loadWorker(w).catch((e) => this.events.onNote(`Worker ${i + 1} could not load the model (${e.message}); going on with fewer.`));
		}
		this.events.onWorkers(this.status());
		return first;
	}

	loadWorker(w) {
		return new Promise((resolve, reject) => {
			w.onLoaded = (msg) => {
				w.ready = true;
				w.memory = msg.memory;
				this.events.onWorkers(this.status());
				this.joinRun(w);
				resolve(msg);
			};
			w.onLoadError = reject;
			w.post({ type: "load", source: this.source });
		});
	}

	// convert runs a safetensors Blob through a converter worker of its own
	// (terminated after, giving its memory back); resolves with the manifest.
	convert(blob, config) {
		return new Promise((resolve, reject) => {
			const w = new Worker("worker.js");
			w.onmessage = (ev) => {
				const m = ev.data;
				if (m.type === "progress") this.events.onProgress(m);
				else if (m.type === "note") this.events.onNote(m.message);
				else if (m.type === "converted") { w.terminate(); resolve(m.manifest); }
				else if (m.type === "error" || m.type === "fatal") { w.terminate(); reject(new Error(m.message)); }
			};
			w.postMessage({ type: "convert", blob, config });
		});
	}

	status() {
		return {
			ready: this.workers.filter((w) => w.ready).length,
			busy: this.workers.filter((w) => w.job).length,
			total: Math.max(this.target, this.workers.length),
			memory: this.workers.map((w) => w.memory),
		};
	}

	record(req, sweeps, metric) {
		return this.request(this.workers[0], { type: "record", req, sweeps, metric });
	}

	memory() {
		return Promise.all(this.workers.filter((w) => w.ready).map((w) => this.request(w, { type: "memory" })));
	}

	// start runs a sweep: jobs are {site, r, cost}, in the order to hand them
	// out. opts: {probs, delayMs, fresh (run the two texts again even if a
	// worker has them)}. cb: {onBaseline(b), onRow(site, r, cells),
	// onDone(status, error)}.
	start(req, jobs, opts, cb) {
		if (this.run) this.cancel();
		const run = { id: ++this.seq, req, queue: jobs.slice(), probs: !!opts.probs, delayMs: opts.delayMs || 0, fresh: !!opts.fresh, cb, active: 0, baseline: null, over: false };
		this.run = run;
		for (const w of this.workers) this.joinRun(w);
		return run.id;
	}

	joinRun(w) {
		const run = this.run;
		if (!run || run.over || !w.ready || w.started === run.id) return;
		w.started = -run.id; // starting
		w.post({ type: "start", run: run.id, req: run.req, fresh: run.fresh });
	}

	dispatch(w) {
		const run = this.run;
		if (!run || run.over || w.job || w.started !== run.id) return;
		const job = run.queue.shift();
		if (!job) {
			this.maybeDone(run);
			return;
		}
		w.job = { ...job, run: run.id };
		run.active++;
		w.post({ type: "sweep", run: run.id, site: job.site, rows: [job.r], probs: run.probs, delayMs: run.delayMs });
	}

	maybeDone(run) {
		if (!run.over && run.queue.length === 0 && run.active === 0 && run.baseline) {
			run.over = true;
			this.run = null;
			run.cb.onDone("done");
		}
	}

	// cancel stops the run: no more rows are handed out and the workers
	// stop the rows they are on at their next check (tens of ms).
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
			if (w.index === 0) this.events.onProgress(m);
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
			this.settle(m.id, m.json, m.error);
			return;
		case "memory":
			w.memory = m.memory;
			this.settle(m.id, m.memory);
			return;
		case "started":
			if (!run || m.run !== run.id) return;
			if (m.error) {
				this.cancel("error", m.error);
				return;
			}
			w.started = run.id;
			if (!run.baseline) {
				run.baseline = m.baseline;
				run.cb.onBaseline(m.baseline);
			}
			this.dispatch(w);
			return;
		case "row":
			if (run && m.run === run.id) run.cb.onRow(m.site, m.r, m.cells);
			return;
		case "swept": {
			const job = w.job;
			w.job = null;
			if (run && job && job.run === run.id) {
				run.active--;
				if (m.status === "error") {
					this.cancel("error", m.error);
					return;
				}
			}
			if (this.run) this.dispatch(w);
			return;
		}
		case "error":
			if (m.of === "load" && w.onLoadError) {
				w.onLoadError(new Error(m.message));
				return;
			}
			if (m.id) {
				this.settle(m.id, null, m.message);
				return;
			}
			this.events.onNote(`Worker ${w.index + 1}: ${m.message}`);
			return;
		case "fatal":
			if (w.onLoadError) w.onLoadError(new Error(m.message));
			this.events.onFatal(m.message);
			return;
		}
	}
}
