// What the runs computed. Owns: the baseline of the texts last run (and
// their request), and every sweep of every request, by request key and
// site. Only run.js writes here; a new model clears it all.

// A cell is three numbers: the clean target's logit and the corrupted
// target's logit at the last position of the patched corrupted run, and the
// log-sum-exp of all logits (NaN unless the sweep computed probabilities).

// Sweep is a site's cells for one request, filled row by row.
export class Sweep {
	constructor(site, rows, cols, probs, direction = "denoise") {
		this.site = site;
		this.direction = direction; // denoise or noise: which run is patched
		this.rows = rows;
		this.cols = cols;
		this.probs = probs;
		this.cells = new Float64Array(rows * cols * 3).fill(NaN);
		this.done = new Uint8Array(rows);
	}
	setRow(r, cells) {
		this.cells.set(cells, r * this.cols * 3);
		this.done[r] = 1;
	}
	get complete() {
		return this.done.every((d) => d === 1);
	}
}

const state = {
	baseline: null, // the unpatched runs (the engine's Baseline) of the texts last run
	request: null, // their request: {clean, corrupted, clean_target, corrupted_target}
	key: null, // its key (texts.js's keyOf)
	sweeps: new Map(), // key + "\0" + site + "\0" + direction → Sweep
};

const sweepKey = (key, site, direction = "denoise") => `${key}\u0000${site}\u0000${direction}`;

export const results = {
	get baseline() { return state.baseline; },
	get request() { return state.request; },
	get key() { return state.key; },

	setBaseline(key, request, baseline) {
		state.key = key;
		state.request = request;
		state.baseline = baseline;
	},
	// forgetBaseline drops the tables of texts that are not the ones to run.
	forgetBaseline() {
		state.baseline = null;
	},
	sweep(key, site, direction) {
		return key === null ? undefined : state.sweeps.get(sweepKey(key, site, direction));
	},
	setSweep(key, sw) {
		state.sweeps.set(sweepKey(key, sw.site, sw.direction), sw);
	},
	// clear forgets everything: results of one model are no results of the next.
	clear() {
		state.sweeps.clear();
		state.baseline = state.request = state.key = null;
	},
};
