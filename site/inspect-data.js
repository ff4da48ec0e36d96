// What the views that look inside a run show (attention patterns, logit
// lens, direct logit attribution), asked of the workers for the texts last
// run: nothing is run again, the engine reads the two runs Run made. Owns:
// the views of every (texts, run) asked for, the lens's top-1 tokens as
// they fill in, the run chosen (clean or corrupted) and their timings.

import { EngineError } from "./errors.js";

const state = {
	entries: new Map(), // key + "\0" + run → entry (see get)
	run: "clean", // the run the views show
};

// Set by initInspect.
const hooks = {
	pool: () => null, // the worker pool
	key: () => null, // the key of the texts last run (results.key)
	changed: () => {}, // something arrived: render soon
};

export function initInspect(h) {
	Object.assign(hooks, h);
}

export const RUNS = ["clean", "corrupted"];
export const run = () => state.run;
export function setRun(r) {
	if (RUNS.includes(r)) state.run = r;
}

// clear forgets everything (a new model).
export function clear() {
	state.entries.clear();
}

// get is the entry of one run of the texts req (key: their key), asked
// for the first time it is wanted: {key, run, views (the engine's RunViews:
// layers, heads, positions, logit_lens, dla), attn (Float32Array
// [L][H][T][T]), error (EngineError), top1 (per lens row: null, or {ids,
// tokens}), top1Error, t0, tViews, tTop1 (performance.now() of the ask, of
// the views' arrival, of the last top-1 row)}.
export function get(key, req, r) {
	if (!key || !req) return null;
	const k = `${key}\u0000${r}`;
	let e = state.entries.get(k);
	if (e) return e;
	e = { key, run: r, req, views: null, attn: null, error: null, top1: null, top1Error: null, t0: performance.now(), tViews: 0, tTop1: 0 };
	state.entries.set(k, e);
	hooks.pool().inspect(req, r).then((res) => {
		e.views = res.views;
		e.attn = res.attn;
		e.tViews = performance.now();
		hooks.changed();
	}, (err) => {
		e.error = EngineError.from(err);
		state.entries.delete(k); // asked again next time it is wanted
		hooks.changed();
	});
	return e;
}

// fillTop1 asks for the lens's top-1 tokens of entry e, a row at a time
// on every ready worker, from the embedding down; each row is shown as it
// arrives. It stops when other texts are run.
export function fillTop1(e) {
	if (!e || !e.views || e.top1) return;
	const rows = e.views.layers + 1;
	e.top1 = new Array(rows).fill(null);
	const queue = Array.from({ length: rows }, (_, i) => i);
	const pool = hooks.pool();
	const workers = Math.max(1, pool.status().ready);
	let left = rows;
	const loop = async (slot) => {
		while (queue.length && hooks.key() === e.key && !e.top1Error) {
			const row = queue.shift();
			try {
				const res = await pool.lensTop1(e.req, e.run, row, slot);
				e.top1[row] = { ids: res.ids, tokens: res.tokens };
				if (--left === 0) e.tTop1 = performance.now();
			} catch (err) {
				e.top1Error = EngineError.from(err);
			}
			hooks.changed();
		}
	};
	for (let s = 0; s < Math.min(workers, rows); s++) loop(s);
}

// timings of the views of the texts last run, in ms from the ask.
export function timings() {
	const out = {};
	for (const e of state.entries.values()) {
		if (e.key !== hooks.key()) continue;
		out[e.run] = { viewsMs: e.tViews ? e.tViews - e.t0 : null, top1Ms: e.tTop1 ? e.tTop1 - e.t0 : null };
	}
	return out;
}

// attention(e, l, h) is head h of layer l's pattern, a T×T Float32Array view.
export function attention(e, l, h) {
	const { heads: H, positions: T } = e.views;
	return e.attn.subarray(((l * H + h) * T) * T, ((l * H + h + 1) * T) * T);
}
