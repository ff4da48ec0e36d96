// Run control: Run and Cancel, the sweep handed to the pool row by row,
// its progress and its status line. Owns: the run in progress, a Run on
// its way to the pool, a run asked for after the current one, the row
// delay (a testing aid) and the runs' timings.

import { $, seconds, setStatus } from "./dom.js";
import { METRICS } from "./metrics.js";
import { Sweep, results } from "./results.js";
import { request, keyOf, tokensOf, tokenize, focusField } from "./texts.js";
import * as link from "./link.js";
import * as sites from "./sites.js";
import * as weights from "./weights.js";
import * as design from "./design.js";

const SPLIT_TOKENS = 64;

const state = {
	run: null, // the sweep in progress: see startRun
	starting: null, // set from Run until the sweep is handed to the pool (the texts may be tokenized first)
	pending: false, // run the shown view when the current run ends
	statusView: null, // the view the run status line speaks of
	rowDelay: 0, // ms the workers wait after each row (tests slow sweeps down with it)
	timings: {}, // runs, sweepSeconds, firstRowSeconds, cells, rows
};

// Set by initRun.
const hooks = {
	changed: () => {}, // the results or the run changed: render now
	rowArrived: () => {}, // a row arrived: render soon
};

export function initRun(h, rowDelay) {
	Object.assign(hooks, h);
	state.rowDelay = rowDelay;
}

export const running = () => !!state.run;
// computing is the sites the run in progress computes; queued, whether the
// shown view runs after it.
export const computing = () => (state.run ? state.run.sites : []);
export const queued = () => state.pending;
export const starting = () => !!state.starting;
export const timings = () => ({ ...state.timings });
export function setRowDelay(ms) {
	state.rowDelay = ms;
}

// noteLost keeps a note about a lost worker, to say it again when the run ends.
export function noteLost(text) {
	if (state.run) state.run.notes.push(text);
}

// runAfter runs the shown view when the current run ends, or now if none runs.
export function runAfter() {
	if (state.run) state.pending = true;
	else run();
}

// run computes what the shown view needs for the texts typed (opts.probs:
// with probabilities; opts.sites and opts.fresh, for benchmarks: other
// sites than the view's, and everything computed again, the two texts too;
// opts.rows: {site: [rows]}, only those rows, as the attribution view's
// "check the top k exactly" asks).
export async function run(opts = {}) {
	if (!weights.ready() || state.run || state.starting) return;
	const me = {};
	state.starting = me;
	hooks.changed();
	try {
		await startRun(opts);
	} finally {
		if (state.starting === me) state.starting = null;
		hooks.changed();
	}
}

export function cancel() {
	state.pending = false;
	weights.pool().cancel();
}

async function startRun(opts) {
	const r = request(), key = keyOf(r);
	// With the tokens at hand the sweep is handed to the pool before run
	// returns (a Cancel right after stops it).
	let t = tokensOf(r);
	if (!t) {
		try {
			t = await tokenize(r);
		} catch (e) {
			setStatus("run-status", `Nothing was run: ${e.message}. Press Run again.`);
			return;
		}
	}
	if (t.error) {
		setStatus("run-status", `Nothing was run: ${t.error.message}`);
		focusField(t.error.field);
		return;
	}
	const info = weights.info(), T = t.clean.length, viewName = link.view();
	const shown = sites.view(info, viewName);
	const probs = !!(METRICS[link.metric()].needsProbs || opts.probs);
	const direction = design.direction();
	const jobs = [];
	const swept = new Set();
	let cells = 0;
	for (const name of opts.sites || shown.parts) {
		const s = sites.site(info, name), cols = sites.cols(s, T);
		let sw = results.sweep(key, name, direction);
		if (!sw || (probs && !sw.probs) || opts.fresh) {
			sw = new Sweep(name, s.rows, cols, probs, direction);
			results.setSweep(key, sw);
		}
		for (let i = 0; i < s.rows; i++) {
			if (sw.done[i] || (opts.rows && !(opts.rows[name] || []).includes(i))) continue;
			jobs.push({ site: name, r: i, cost: s.row_cost[i] });
			swept.add(name);
			cells += cols;
		}
	}
	// The most expensive rows first, so that the workers end together;
	// but each worker's first row is one of the cheapest, so that rows show
	// as soon as the texts are run (the last layer's rows cost little).
	jobs.sort((a, b) => b.cost - a.cost);
	jobs.unshift(...jobs.splice(Math.max(0, jobs.length - weights.pool().status().ready)).reverse());
	if (results.key !== key) results.forgetBaseline();
	const total = jobs.reduce((a, j) => a + j.cost, 0);
	const costOf = new Map(jobs.map((j) => [`${j.site}\u0000${j.r}`, j.cost]));
	const rn = { key, t0: performance.now(), firstRow: 0, total, done: 0, rows: jobs.length, rowsDone: 0, cells, short: shown.short, view: viewName, sites: [...swept], notes: [] };
	state.timings.runs = (state.timings.runs || 0) + 1;
	state.run = rn;
	state.starting = null; // state.run guards from here
	hooks.changed();
	setStatus("run-status", jobs.length ? `Running ${shown.short}…` : "Running the two texts…");
	state.statusView = viewName;
	$("run-progress").hidden = false;
	updateProgress();
	const timer = setInterval(updateProgress, 250);
	// Short texts: two workers run one text each and swap the runs, so
	// that the rows start after one run instead of two. (A long text's
	// runs are tens of MB to pass, and little beside its sweep.)
	const split = T <= SPLIT_TOKENS;
	weights.pool().start(r, jobs, { probs, direction, delayMs: state.rowDelay, fresh: !!opts.fresh, split, t0: rn.t0 }, {
		onBaseline(b) {
			results.setBaseline(key, r, b);
			hooks.changed();
		},
		onRow(site, row, rowCells) {
			const sw = results.sweep(key, site, direction);
			if (!sw || state.run !== rn) return;
			sw.setRow(row, rowCells);
			rn.done += costOf.get(`${site}\u0000${row}`) || 0;
			rn.rowsDone++;
			if (!rn.firstRow) rn.firstRow = performance.now();
			hooks.rowArrived();
		},
		onDone(status, error) {
			clearInterval(timer);
			if (state.run === rn) state.run = null;
			const ms = performance.now() - rn.t0;
			if (status === "done") {
				state.timings.sweepSeconds = ms / 1000;
				state.timings.firstRowSeconds = rn.firstRow ? (rn.firstRow - rn.t0) / 1000 : 0;
				state.timings.cells = rn.cells;
				state.timings.rows = rn.rows;
				state.timings.trace = weights.pool().lastTrace;
				const n = weights.pool().status().ready;
				setStatus("run-status", (rn.rows ? `Swept ${rn.short} in ${seconds(ms)} with ${n} worker${n > 1 ? "s" : ""}.` : "Done: the tables are for these texts; the heatmap was computed before.") + (rn.notes.length ? ` Meanwhile: ${rn.notes.join(" ")}` : ""));
			} else if (status === "cancelled") {
				setStatus("run-status", `Cancelled after ${seconds(ms)}: ${rn.rowsDone} of ${rn.rows} rows done (Run again completes the rest).`);
			} else {
				setStatus("run-status", `The run failed: ${error.message}`);
			}
			$("run-progress").hidden = true;
			hooks.changed();
			if (status === "done" && state.pending) {
				state.pending = false;
				run();
			}
		},
	});
}

// viewChanged clears a finished run's status line when another view is
// shown: "Swept head z…" is no news about resid_post.
export function viewChanged(name) {
	if (!state.run && state.statusView && state.statusView !== name) {
		setStatus("run-status", "");
		state.statusView = null;
	}
}

// updateProgress shows the run's progress, in blocks computed.
export function updateProgress() {
	const rn = state.run;
	if (!rn) return;
	const ms = performance.now() - rn.t0;
	$("run-bar").max = rn.total || 1;
	$("run-bar").value = rn.done;
	let left = "";
	if (rn.done > 0 && rn.done < rn.total) left = ` · about ${seconds((ms * (rn.total - rn.done)) / rn.done)} left`;
	$("run-text").textContent = `${rn.rowsDone} of ${rn.rows} rows · ${seconds(ms)} elapsed${left}`;
}
