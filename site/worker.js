// A patchlab worker: the Go engine (patchlab.wasm) with one model, driven by
// messages from the page (pool.js). The page never waits on it: every
// answer is a message. PROTOCOL.md lists the messages and the engine's
// calls (wasm/main_js.go). A failure goes to the page as a plain object
// {kind, message, detail}: the engine's as it rejected, the worker's own
// made by failure() below.
// Owns: the engine and its one model; nothing else outlives a message.
// About 560 lines, one file: every handler shares the engine, the load in
// progress and the warm-up gate, and the loading half (cache, shared
// reading, hashing) is one sequence that a split would cut across.
"use strict";
importScripts("memfs.js", "wasm_exec.js", "weightstore.js");


// plYield lets the event loop run (and a "cancel" message arrive) in the
// middle of a sweep; Go calls it every few tens of milliseconds.
self.plYield = () => new Promise((resolve) => {
	const ch = new MessageChannel();
	ch.port1.onmessage = () => resolve();
	ch.port2.postMessage(0);
});

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
const engine = () => self.patchlab;

// failure is an error of the worker's own, of a kind of PROTOCOL.md.
function failure(kind, message, detail = null) {
	return Object.assign(new Error(message), { kind, detail });
}

// wire is what the page is sent of anything thrown: the engine's
// rejections are {kind, message, detail} already.
function wire(e) {
	if (e && typeof e === "object" && typeof e.kind === "string") return { kind: e.kind, message: String(e.message), detail: e.detail ?? null };
	return { kind: "internal", message: (e && e.message) || String(e), detail: null };
}

// renamed is e with another message, of the same kind.
const renamed = (e, message) => ({ ...wire(e), message });

// The page learns that this worker is gone, even when it goes without a
// word (closed, or killed while computing), by a Web Lock held for the
// worker's lifetime under the name the page gave it: the browser releases
// it when the worker ends, and the page is waiting for it.
if (self.name && self.navigator && navigator.locks) {
	navigator.locks.request(self.name, () => {
		post({ type: "alive" });
		return new Promise(() => {}); // held until the worker ends
	}).catch(() => {});
}

// exitReason says why the Go program stopped, from what it wrote last.
function exitReason() {
	const line = MEMFS.fatal();
	if (/out of memory/.test(line)) return "the engine ran out of memory";
	return line ? `the engine crashed (${line})` : "the engine stopped";
}

// phases are where a load's time went, in ms, and how many bytes were
// hashed (PROTOCOL.md: loaded); timeOrigin puts the moments on the page's clock.
const phases = { script: performance.now(), timeOrigin: performance.timeOrigin };
const timed = async (name, f) => {
	const t = performance.now();
	try {
		return await f();
	} finally {
		phases[name] = (phases[name] || 0) + performance.now() - t;
	}
};

const booted = (async () => {
	const go = new Go();
	const url = await import("./wasmbuild.js").then((m) => m.wasmURL(), () => "patchlab.wasm");
	let mod;
	try {
		mod = await timed("compile", () => WebAssembly.compileStreaming(fetch(url)));
	} catch (e) {
		// A host that serves .wasm with another Content-Type: compile from bytes.
		const res = await fetch(url);
		if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
		mod = await timed("compile", async () => WebAssembly.compile(await res.arrayBuffer()));
	}
	const inst = await timed("instantiate", () => WebAssembly.instantiate(mod, go.importObject));
	// run returns at once (main waits for calls), self.patchlab is set;
	// its promise settles if the Go program ever exits: a panic, or no
	// memory left. The worker is of no use after that: the page replaces it.
	go.run(inst).then(() => post({ type: "exited", message: exitReason() }));
	self.wasmMemory = inst.exports.mem;
	phases.booted = performance.now();
	post({ type: "booted" });
})().catch((e) => post({ type: "fatal", message: `The engine did not start: ${e.message}` }));

// readerOf reads a Blob synchronously, as Go's io.ReaderAt needs.
function readerOf(blob, onRead) {
	const reader = new FileReaderSync();
	return (off, len) => {
		try {
			const buf = new Uint8Array(reader.readAsArrayBuffer(blob.slice(off, off + len)));
			onRead && onRead(off + buf.length);
			return buf;
		} catch (e) {
			return `reading ${blob.name || "the file"}: ${e.message}`;
		}
	};
}

function memoryMB() {
	const m = engine().memory();
	return { wasm: self.wasmMemory.buffer.byteLength / 1048576, goSys: m.sys / 1048576, goHeap: m.heap / 1048576 };
}

// Throttled progress messages.
function progress(phase, total) {
	let done = 0, last = 0;
	return (n, absolute) => {
		done = absolute ? n : done + n;
		const now = performance.now();
		if (now - last > 80 || done >= total) {
			last = now;
			post({ type: "progress", phase, done, total });
		}
	};
}

const READ_AHEAD = 2;

// sharer shares the reading of the shards between the workers that load
// the model at once (peers: a MessagePort to each of the others; group:
// the name of their load): of each shard, the first worker to claim it (a
// Web Lock named after the group and the shard's sha256) reads it from the
// cache (or the network), hashes it, and sends each of the others a copy.
// A worker holds its claims until it ends, or its load fails (over(true)):
// one that gets a claim free while it still waits for that shard reads it
// itself. null when there is no one to share with.
function sharer(group, peers) {
	if (!group || !peers || !peers.length || !(self.navigator && navigator.locks)) return null;
	const got = new Map(), waiting = new Map(); // sha256 → bytes sent, or what waits for them
	for (const port of peers) {
		port.onmessage = (ev) => {
			const { sha, bytes } = ev.data;
			const w = waiting.get(sha);
			if (w) {
				waiting.delete(sha);
				w(bytes);
			} else got.set(sha, bytes);
		};
	}
	const take = (sha) => {
		const b = got.get(sha);
		got.delete(sha);
		return b;
	};
	let failed;
	const done = new Promise((resolve) => (failed = resolve));
	const over = (fail) => fail && failed();
	const name = (sha) => `patchlab-shard/${group}/${sha}`;
	// read resolves with shard s's bytes, read by readOwn here or sent by
	// another worker (then fromPeer(bytes) is called); claimed() once this
	// worker's part is over: the shard not claimed, or read.
	async function read(s, readOwn, claimed, fromPeer) {
		const sha = s.sha256;
		const mine = !got.has(sha) && (await new Promise((resolve, reject) => {
			navigator.locks.request(name(sha), { ifAvailable: true }, (lock) => {
				resolve(!!lock);
				return lock ? done : null;
			}).catch(reject);
		}));
		if (mine) {
			try {
				const bytes = await readOwn();
				for (const port of peers) port.postMessage({ sha, bytes });
				return bytes;
			} finally {
				claimed();
			}
		}
		claimed();
		let bytes;
		if (got.has(sha)) bytes = take(sha);
		else {
			let settled = false;
			const sent = new Promise((resolve) => waiting.set(sha, resolve));
			const free = navigator.locks.request(name(sha), () => null).then(() => (settled ? null : got.has(sha) ? take(sha) : "own"));
			bytes = await Promise.race([sent, free]);
			settled = true;
			waiting.delete(sha);
			if (bytes === "own") return readOwn(); // the worker that claimed it is gone
		}
		fromPeer(bytes);
		return bytes;
	}
	return { read, over };
}

// shardReader starts reading the shards of a web-format source (the
// manifest's text, the URL it came from (null: the shards are in this
// browser's cache only, or in shards), what to call it in messages, and
// shards: null, or a Map sha256 → bytes of shards the page holds in memory,
// a conversion this browser could not keep): the first ones at once, while
// the engine may still be starting, then ahead of the engine, which asks
// for them in the manifest's order, one at a time (fetchShard): at most
// READ_AHEAD + 1 read at once, READ_AHEAD ahead (any number ahead when
// shared: what the others read comes meanwhile). Each is hashed once as it
// comes. A downloaded shard goes into the cache while the engine reads it
// and warms up: kept is over when the cache has them all (other workers
// read them there). over(failed) ends the reader's claims if its load failed (sharer).
function shardReader({ manifest, base, name, shards: inMemory }, share) {
	const where = name || (inMemory ? "the converted weights" : "the manifest of the weights kept in this browser");
	let m;
	try {
		m = JSON.parse(manifest);
	} catch {
		const bad = failure("bad_weights", `${where} is not a weights manifest: ${/^\s*</.test(manifest) ? "it is an HTML page" : "it is not JSON"}`);
		return { where, failed: bad, over: (fail) => share && share.over(fail) };
	}
	const shards = m && Array.isArray(m.shards) ? m.shards.filter((s) => s && typeof s.file === "string") : [];
	const total = shards.reduce((a, s) => a + (Number(s.size) || 0), 0);
	const byFile = new Map(shards.map((s) => [s.file, s]));
	const r = { where, fromNetwork: 0, downloading: null, puts: [], over: (fail) => share && share.over(fail) };
	let downloads;
	r.downloading = new Promise((resolve) => (downloads = resolve));
	const onBytes = progress("weights", total);
	const read = async (file) => {
		const s = byFile.get(file);
		const mem = inMemory && s && inMemory.get(s.sha256);
		if (mem) {
			phases.hashedBytes = (phases.hashedBytes || 0) + mem.length;
			if (mem.length !== s.size || (await timed("hash", () => PatchlabStore.sha256(mem))) !== s.sha256) throw failure("bad_weights", "its bytes in this page's memory do not match the manifest");
			onBytes(mem.length);
			return mem;
		}
		return PatchlabStore.getShard(s, base ? new URL(file, base).href : null, (n, from) => {
			if (from === "network") {
				r.fromNetwork += n;
				downloads();
			}
			onBytes(n);
		}, (note) => post({ type: "note", message: note }), { phases, puts: r.puts });
	};
	const order = shards.map((s) => s.file), reading = new Map();
	const ahead = share && !inMemory ? order.length : READ_AHEAD;
	let next = 0, own = 0, asked = -1;
	const start = (file) => {
		own++;
		const claimed = () => {
			own--;
			pump();
		};
		const p = share && !inMemory ? share.read(byFile.get(file), () => read(file), claimed, (b) => {
			phases.sharedBytes = (phases.sharedBytes || 0) + b.length;
			onBytes(b.length);
		}) : read(file).finally(claimed);
		p.catch(() => {}); // its failure is the engine's to report, when it asks for it
		reading.set(file, p);
	};
	const pump = () => {
		while (own < READ_AHEAD + 1 && next < order.length && next <= asked + 1 + ahead) start(order[next++]);
	};
	r.fetchShard = (file) => {
		asked = Math.max(asked, order.indexOf(file));
		pump();
		if (!reading.has(file)) start(file);
		const p = reading.get(file);
		reading.delete(file); // the engine holds its bytes now
		return timed("shards", () => p);
	};
	pump();
	return r;
}

// loadWeb loads the web format with the shards reader r reads.
async function loadWeb(manifest, r) {
	if (r.failed) throw r.failed;
	let info;
	try {
		info = JSON.parse(await timed("engine", () => engine().loadWeb(manifest, r.fetchShard, phases)));
	} catch (e) {
		// Name the file: the manifest's own faults are the manifest's, a
		// shard's name its shard (webfmt says "shard NAME: …").
		const msg = wire(e).message;
		throw renamed(e, /^shard /.test(msg) ? msg : `${r.where}: ${msg}`);
	}
	return { info, fromNetwork: r.fromNetwork, kept: Promise.all(r.puts) };
}

async function loadBlob({ blob, config }) {
	const onRead = progress("read", blob.size);
	const info = JSON.parse(await engine().loadBlob(readerOf(blob, (end) => onRead(end, true)), blob.size, blob.name || "model.safetensors", config || null));
	return { info, fromNetwork: 0 };
}

// convert turns a safetensors Blob into the web format and stores it in
// Cache Storage. It answers with the manifest's text; and, when this
// browser cannot keep the converted weights (no Cache Storage, quota
// exceeded), with why (unkept) and their shards (a Map sha256 → bytes,
// transferred) for the page to hand to its workers itself.
async function convert({ blob, config }) {
	// Reading and writing go together, tensor by tensor: the bytes written
	// are the progress.
	const onWrite = (done, total) => post({ type: "progress", phase: "convert", done, total });
	await engine().convert(readerOf(blob), blob.size, blob.name || "model.safetensors", config || null, "/out", onWrite);
	const manifest = new TextDecoder().decode(MEMFS.file("/out/manifest.json"));
	const m = JSON.parse(manifest);
	let done = 0, unkept = null;
	const total = m.shards.reduce((a, s) => a + s.size, 0);
	for (const s of m.shards) {
		const bytes = MEMFS.file(`/out/${s.file}`);
		if ((await PatchlabStore.sha256(bytes)) !== s.sha256) throw failure("internal", `converted shard ${s.file}: sha256 mismatch`);
		if (!unkept) {
			try {
				await PatchlabStore.putShard(s.sha256, bytes);
			} catch (e) {
				unkept = e.message; // the rest is not tried
			}
		}
		done += s.size;
		post({ type: "progress", phase: "store", done, total });
	}
	// The manifest is kept only with every shard: a next visit finds either
	// the whole model or none of it.
	if (!unkept) {
		try {
			await PatchlabStore.setUserManifest(manifest);
		} catch (e) {
			unkept = e.message;
		}
	}
	let shards = null;
	const transfer = [];
	if (unkept) {
		shards = new Map();
		for (const s of m.shards) {
			const bytes = MEMFS.file(`/out/${s.file}`).slice(); // a buffer of its own, to transfer
			shards.set(s.sha256, bytes);
			transfer.push(bytes.buffer);
			MEMFS.remove(`/out/${s.file}`);
		}
	}
	for (const s of m.shards) MEMFS.remove(`/out/${s.file}`);
	return { manifest, unkept, shards, transfer };
}

// storeFault makes this worker's Cache Storage fail, for the page's tests:
// "open" (caches.open rejects, as in some private windows) or "quota"
// (every put is refused, the storage being full).
function storeFault(kind) {
	if (kind === "open" && self.caches) self.caches.open = () => Promise.reject(new DOMException("The operation is insecure.", "SecurityError"));
	else if (kind === "quota" && self.Cache) Cache.prototype.put = () => Promise.reject(new DOMException("The quota has been exceeded.", "QuotaExceededError"));
}

// warmUp runs the model once on a two-token text, a patched row included,
// so that the first row of the first sweep does not carry the engine's
// warm-up (WebKit's is seconds). What it computed is forgotten. It runs
// after "loaded": the worker is ready, and a request that needs the
// engine's analysis (any but those of UNGATED) waits until it is over.
async function warmUp() {
	try {
		await engine().start(JSON.stringify({ clean: "The cat", corrupted: "The dog", clean_target: " sat", corrupted_target: " ran" }));
		await engine().sweep("resid_post", false, [0], () => {}, 0);
	} catch {
		// only a warm-up: the first sweep pays it instead
	} finally {
		engine().forget();
	}
}

// started is the key of the texts this worker's engine last started: the
// views (inspect, lensTop1) start them only in a worker that started none
// (a replacement); the engine refuses other texts than those started.
let started = null;
let halfRun = Promise.resolve(); // the last start's half: join and start wait for it
let closeAfterHalf = false; // debug "half-close"
const keyOf = (req) => JSON.stringify([req.clean, req.corrupted, req.clean_target, req.corrupted_target]);

async function startedFor(req) {
	if (started === null) {
		started = keyOf(req);
		await engine().start(JSON.stringify(req));
	}
}

const handlers = {
	async tokenize(msg) {
		post({ type: "tokens", id: msg.id, result: JSON.parse(await engine().tokenize(JSON.stringify(msg.req))) });
	},
	async load(msg) {
		const t0 = phases.loadAsked;
		let r;
		try {
			r = msg.source.kind === "web" ? await loadWeb(msg.source.manifest, msg.reader) : await loadBlob(msg.source);
		} catch (e) {
			if (msg.reader) msg.reader.over(true);
			throw e;
		}
		await timed("cacheWait", () => r.kept);
		phases.ready = performance.now();
		post({ type: "loaded", info: r.info, fromNetwork: r.fromNetwork, seconds: (performance.now() - t0) / 1000, memory: memoryMB(), phases });
		warming = warmUp();
	},
	async convert(msg) {
		const r = await convert(msg);
		post({ type: "converted", manifest: r.manifest, unkept: r.unkept, shards: r.shards }, r.transfer);
	},
	// check reads a safetensors file's header: is it a GPT-2 checkpoint?
	async check(msg) {
		const { blob, config } = msg;
		await engine().check(readerOf(blob), blob.size, blob.name || "model.safetensors", config || null);
		post({ type: "checked" });
	},
	// debug makes this worker fail, for the page's fault tests: "close"
	// (it ends without a word), "throw" (an uncaught exception), "panic" and
	// "oom" (the Go engine panics, or runs out of memory, and exits),
	// "start-fatal" (the engine's next start fails, of kind "internal"),
	// "half-close" (it ends when its next half of a split start is done,
	// before the other worker has it).
	debug(msg) {
		if (msg.kind === "close") self.close();
		else if (msg.kind === "half-close") closeAfterHalf = true;
		else if (msg.kind === "start-fatal") {
			const start = engine().start;
			engine().start = async () => {
				engine().start = start;
				throw { kind: "internal", message: "a failure asked for by a test", detail: null };
			};
		}
		else if (msg.kind === "throw") setTimeout(() => { throw new Error("a crash asked for by a test"); });
		else engine().crash(msg.kind);
	},
	async start(msg) {
		started = keyOf(msg.req);
		if (msg.fresh) engine().forget();
		try {
			if (msg.half) { // one text of two workers' (PROTOCOL.md): its run goes to the other
				started = null; // until join: a cancelled run leaves half an analysis
				const running = engine().startHalf(JSON.stringify(msg.req), msg.half);
				halfRun = running.catch(() => {});
				const bytes = await running;
				if (closeAfterHalf) return self.close(); // a post after close would still go
				post({ type: "half", run: msg.run, bytes }, [bytes.buffer]);
				return;
			}
			await halfRun;
			const baseline = JSON.parse(await engine().start(JSON.stringify(msg.req)));
			post({ type: "started", run: msg.run, baseline });
		} catch (e) {
			post({ type: "started", run: msg.run, error: wire(e) });
		}
	},
	// join completes the analysis of start's half with the other worker's run.
	async join(msg) {
		try {
			await halfRun;
			const baseline = JSON.parse(await engine().join(JSON.stringify(msg.req), msg.bytes));
			started = keyOf(msg.req);
			post({ type: "started", run: msg.run, baseline });
		} catch (e) {
			post({ type: "started", run: msg.run, error: wire(e) });
		}
	},
	async sweep(msg) {
		try {
			const status = await engine().sweep(msg.site, !!msg.probs, msg.rows, (r, bytes) => {
				const cells = new Float64Array(bytes.buffer);
				post({ type: "row", run: msg.run, site: msg.site, r, cells }, [cells.buffer]);
			}, msg.delayMs || 0, msg.direction || "denoise");
			post({ type: "swept", run: msg.run, status });
		} catch (e) {
			post({ type: "swept", run: msg.run, status: "error", error: wire(e) });
		}
	},
	cancel() {
		engine().cancel();
	},
	async record(msg) {
		await engine().start(JSON.stringify(msg.req)); // the analysis the record is of
		const sweeps = msg.sweeps.map((s) => ({ site: s.site, direction: s.direction || "denoise", cells: new Uint8Array(s.cells.buffer, s.cells.byteOffset, s.cells.byteLength) }));
		post({ type: "record", id: msg.id, json: await engine().record(sweeps, msg.metric) });
	},
	// reportKit zips the report kit of the texts req (reportkit.js): the
	// engine's text and record of the sweeps, and the figures the page drew.
	async reportKit(msg) {
		started = keyOf(msg.req);
		await engine().start(JSON.stringify(msg.req));
		const sweeps = msg.sweeps.map((s) => ({ site: s.site, cells: new Uint8Array(s.cells.buffer, s.cells.byteOffset, s.cells.byteLength) }));
		const zip = await engine().reportKit(sweeps, JSON.stringify(msg.kit), msg.figures);
		post({ type: "reportKit", id: msg.id, zip }, [zip.buffer]);
	},
	memory(msg) {
		post({ type: "memory", id: msg.id, memory: memoryMB() });
	},
	// inspect looks inside one run of the started texts: lens metric and
	// DLA, and the attention patterns as a Float32Array (transferred).
	async inspect(msg) {
		await startedFor(msg.req);
		const r = await engine().inspect(JSON.stringify(msg.req), msg.run);
		const attn = new Float32Array(r.attn.buffer, r.attn.byteOffset, r.attn.byteLength / 4);
		post({ type: "inspected", id: msg.id, views: JSON.parse(r.views), attn }, [attn.buffer]);
	},
	async lensTop1(msg) {
		await startedFor(msg.req);
		post({ type: "lensRow", id: msg.id, row: JSON.parse(await engine().lensTop1(JSON.stringify(msg.req), msg.run, msg.row)) });
	},
	// Attribution patching of the started texts (PROTOCOL.md).
	async atp(msg) {
		await startedFor(msg.req);
		post({ type: "atp", id: msg.id, result: JSON.parse(await engine().atp(JSON.stringify(msg.req), msg.top)) });
	},
	async atpNeurons(msg) {
		await startedFor(msg.req);
		post({ type: "atpNeurons", id: msg.id, result: JSON.parse(await engine().atpNeurons(JSON.stringify(msg.req), msg.top)) });
	},
	async atpTop(msg) {
		await startedFor(msg.req);
		post({ type: "atpTop", id: msg.id, result: JSON.parse(await engine().atpTop(JSON.stringify(msg.req), msg.site, msg.k)) });
	},
	// A prompt set (promptset.js): its pairs, and one run of it at a time.
	async pairs(msg) {
		post({ type: "pairs", id: msg.id, result: JSON.parse(await engine().pairs(JSON.stringify(msg.source))) });
	},
	async pair(msg) {
		const at = { run: msg.run, index: msg.job.index, k: msg.job.k };
		try {
			const r = await engine().runPair(JSON.stringify(msg.job), JSON.stringify(msg.opts), (cells) => post({ type: "pair-row", run: msg.run, cells }));
			if (msg.delayMs) await new Promise((resolve) => setTimeout(resolve, msg.delayMs)); // tests: a slower set
			if (r === "cancelled") post({ type: "pair-done", ...at, status: "cancelled" });
			else post({ type: "pair-done", ...at, status: "done", result: JSON.parse(r), memory: memoryMB() });
		} catch (e) {
			post({ type: "pair-done", ...at, status: "error", error: wire(e) });
		}
	},
};

// warming is the warm-up in progress (or over); the messages below do not
// wait for it: they do not touch the engine's analysis.
let warming = Promise.resolve();
const UNGATED = new Set(["tokenize", "cancel", "debug"]);


self.onmessage = async (ev) => {
	const msg = ev.data;
	try {
		if (msg.storeFault) storeFault(msg.storeFault);
		if (msg.type === "load") {
			// The shards are read from the moment the load is asked, while the
			// engine may still be compiling.
			phases.loadAsked = performance.now();
			if (msg.source.kind === "web") {
				msg.reader = shardReader(msg.source, sharer(msg.group, msg.peers));
			}
		}
		await booted;
		if (!self.patchlab) return;
		if (!UNGATED.has(msg.type)) await warming;
		await handlers[msg.type](msg);
	} catch (e) {
		post({ type: "error", of: msg.type, id: msg.id, error: wire(e) });
	}
};
