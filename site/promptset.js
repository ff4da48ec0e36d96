// Runs that average: a prompt set (many clean/corrupted pairs) and Gaussian
// noise (one pair over several seeds), as the CLI's sweep -pairs and
// -corruption noise run them (model/promptset). Owns: the set run in
// progress or last run (its pairs, each pair's runs, the running means and
// spreads), its scheduling on the pool's workers, and its view (the
// averaged heatmap, the spread on hover, the per-pair heatmaps, the
// per-pair baselines) and export.
//
// Where the work runs: each run (a pair, or a pair and one noise seed) is
// one job, swept whole by one worker (runPair: promptset.Set's own code),
// and the workers take jobs as they free up. Runs are added to the means
// in the set's order, by Welford's update as promptset.Set does, so the
// numbers are the CLI's; a run that finishes early waits (a few kB) for
// the ones before it. Splitting a pair's rows across workers instead would
// run both texts again in every worker for every pair; whole runs keep
// every worker busy on its own pair, hold one pair's activations per
// worker whatever the set's size (memory flat in the number of pairs),
// and the first averaged heatmap comes once the first pair is swept.
//
// Why one file of ~560 lines: the scheduler, the running means and the
// averaged view share the set run's state; split, each would reach into
// the others'.

import { $, el, seconds, setStatus, visible } from "./dom.js";
import { METRICS } from "./metrics.js";
import { Heatmap } from "./heatmap.js";
import { niceMax, precise, csvRows } from "./heatmap-data.js";
import { csv, save, slug } from "./export.js";
import * as sites from "./sites.js";
import * as design from "./design.js";
import * as link from "./link.js";
import * as weights from "./weights.js";
import { request } from "./texts.js";
import { option } from "./urlstate.js";

// Moments are running means and sums of squared deviations, cell by cell
// (Welford's update, as promptset's moments).
class Moments {
	constructor() {
		this.n = 0;
		this.mean = null;
		this.m2 = null;
	}
	add(x) {
		if (this.n === 0) {
			this.mean = new Float64Array(x.length);
			this.m2 = new Float64Array(x.length);
		}
		this.n++;
		for (let i = 0; i < x.length; i++) {
			const d = x[i] - this.mean[i];
			this.mean[i] += d / this.n;
			this.m2[i] += d * (x[i] - this.mean[i]);
		}
	}
	// std is the sample standard deviation (dividing by n − 1); 0 for one run.
	std() {
		const out = new Float64Array(this.mean ? this.mean.length : 0);
		if (this.n < 2) return out;
		for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(Math.max(this.m2[i], 0) / (this.n - 1));
		return out;
	}
}

const state = {
	set: null, // the set run in progress or last run (newSet)
	seq: 0,
	heat: null,
	model: null, // what the canvas shows
	frame: 0,
	timer: 0,
};

const hooks = { changed: () => {} };

export const running = () => !!(state.set && state.set.running);
export const active = () => design.isSetRun();

// ---------------------------------------------------------------- scheduling

// Scheduler hands a set's jobs to the pool's workers (as the pool's guest):
// a job at a time per worker, a lost worker's job back to the queue.
class Scheduler {
	constructor(pool, set, jobs) {
		this.pool = pool;
		this.set = set;
		this.queue = jobs;
		this.active = 0;
		this.over = false;
		pool.guest = this;
		for (const w of pool.workers) this.dispatch(w);
	}
	dispatch(w) {
		if (this.over || !w.ready || w.lost || w.setJob || w.job) return;
		const job = this.queue.shift();
		if (!job) return;
		w.setJob = job;
		this.active++;
		w.post({ type: "pair", run: this.set.id, job, opts: this.set.opts, delayMs: Number(option("row_delay_ms")) || 0 });
	}
	// drop takes the queued runs of a pair away (it is skipped).
	drop(index) {
		this.queue = this.queue.filter((j) => j.index !== index);
	}
	onReady(w) {
		this.dispatch(w);
	}
	onLost(w) {
		if (!w.setJob) return;
		this.queue.unshift(w.setJob);
		w.setJob = null;
		this.active--;
	}
	onMessage(w, m) {
		if (m.run !== this.set.id || this.over) return;
		if (m.type === "pair-row") {
			this.set.cellsDone += m.cells;
			return;
		}
		if (m.type !== "pair-done") return;
		w.setJob = null;
		this.active--;
		if (m.status === "error") {
			this.stop();
			finish(this.set, "error", m.error.message);
			return;
		}
		if (m.status === "done") {
			if (m.memory) this.set.peak = { goHeap: Math.max(this.set.peak.goHeap, m.memory.goHeap), wasm: Math.max(this.set.peak.wasm, m.memory.wasm) };
			arrived(this.set, m.result);
		}
		this.dispatch(w);
	}
	stop() {
		this.over = true;
		this.queue = [];
		for (const w of this.pool.workers) if (w.setJob) {
			w.setJob = null;
			w.post({ type: "cancel" });
		}
		if (this.pool.guest === this) this.pool.guest = null;
	}
}

// ---------------------------------------------------------------- the set

// run reads the pairs and runs the set the design asks for.
export async function run() {
	if (running() || !weights.ready()) return;
	const problem = design.problem();
	if (problem) {
		setStatus("run-status", `Nothing was run: ${problem}`);
		return;
	}
	const info = weights.info(), pool = weights.pool();
	const view = sites.view(info, link.view());
	const metric = link.metric();
	const isSet = design.mode() === "set";
	const src = isSet ? design.setSource() : null;
	setStatus("run-status", isSet ? "Reading the pairs…" : "Checking the texts…");
	let pairs;
	try {
		pairs = await pool.pairs(isSet ? src.source : { jsonl: JSON.stringify(request()) });
	} catch (e) {
		setStatus("run-status", `Nothing was run: ${e.message}`);
		return;
	}
	const first = pairs.find((p) => !p.problem && !p.error);
	if (!first) {
		const p = pairs[0];
		setStatus("run-status", `Nothing was run: ${isSet ? "no pair can run; the first: " : ""}${p.problem || (p.error && p.error.message)}`);
		return;
	}
	const noise = design.noise();
	const runsPer = noise ? noise.seeds : 1;
	const opts = { sites: view.parts, metric, direction: design.direction(), noise, tokens: first.tokens };
	const T = first.tokens;
	const cellsPerRun = view.parts.reduce((a, name) => {
		const s = sites.site(info, name);
		return a + s.rows * sites.cols(s, T);
	}, 0);
	const set = {
		id: `set-${++state.seq}`, running: true, status: "", t0: performance.now(), firstMean: 0,
		info, view, metric, opts, pairs, runsPer, T, cellsPerRun,
		source: isSet ? src.name : null, seed: isSet ? src.seed : null, corruption: noise ? "noise" : "text",
		slots: pairs.map((p) => ({ runs: new Array(runsPer).fill(null), done: 0, skip: p.problem ? { reason: "not_json", error: p.problem } : null, committed: false })),
		next: 0, results: [], perPair: [],
		moments: Object.fromEntries(view.parts.map((s) => [s, { diff: new Moments(), metric: new Moments() }])),
		clean: new Moments(), corr: new Moments(), labels: null,
		nPairs: 0, nSkipped: 0, nRuns: 0, sigma: 0,
		cellsDone: 0, cellsTotal: cellsPerRun * runsPer * pairs.length, peak: { goHeap: 0, wasm: 0 },
	};
	const jobs = [];
	pairs.forEach((p, index) => {
		if (p.problem) return;
		const pair = { clean: p.clean, corrupted: p.corrupted, clean_target: p.clean_target, corrupted_target: p.corrupted_target, ...(p.template ? { template: p.template } : {}) };
		for (let k = 0; k < runsPer; k++) jobs.push({ index, pair, k });
	});
	state.set = set;
	$("set-show").value = "mean";
	commit(set);
	setStatus("run-status", isSet ? `Running ${pairs.length} pairs${noise ? ` × ${runsPer} noise seeds` : ""}…` : `Running ${runsPer} noise seed${runsPer > 1 ? "s" : ""}…`);
	$("run-progress").hidden = false;
	state.timer = setInterval(progress, 250);
	set.scheduler = new Scheduler(pool, set, jobs);
	hooks.changed();
	if (set.running && set.scheduler.active === 0 && jobs.length) finish(set, "error", "no worker has the model: reload the page");
}

export function cancel() {
	const set = state.set;
	if (!set || !set.running) return;
	set.scheduler.stop();
	finish(set, "cancelled");
}

// arrived takes one run's result; the pairs whose runs are all in are
// added to the set in order.
function arrived(set, r) {
	const slot = set.slots[r.index];
	if (slot.committed) return;
	slot.done++;
	if (r.result.error) {
		if (!slot.skip) {
			slot.skip = r.result;
			set.scheduler.drop(r.index);
		}
	} else {
		slot.runs[r.k] = r;
	}
	commit(set);
}

function commit(set) {
	while (set.next < set.slots.length) {
		const i = set.next, slot = set.slots[i];
		if (!slot.skip && slot.done < set.runsPer) break;
		slot.committed = true;
		set.next++;
		if (slot.skip) {
			const p = set.pairs[i];
			set.results.push({ index: i, clean: p.clean || "", corrupted: p.corrupted || "", clean_target: p.clean_target || "", corrupted_target: p.corrupted_target || "", ...(p.template ? { template: p.template } : {}), clean_logit_diff: 0, corrupted_logit_diff: 0, error: slot.skip.error, reason: slot.skip.reason });
			set.nSkipped++;
			set.cellsDone += (set.runsPer - slot.runs.filter(Boolean).length) * set.cellsPerRun;
		} else {
			addPair(set, i, slot.runs);
		}
		slot.runs = null;
	}
	if (set.running && set.next === set.slots.length) finish(set, "done");
	scheduleRender();
}

function addPair(set, i, runs) {
	const r0 = runs[0], pair = {}, corr = new Moments();
	addLabels(set, r0.clean_tokens, r0.corrupted_tokens);
	set.sigma = r0.sigma;
	const res = { ...r0.result, matrices: {} };
	for (const site of set.view.parts) {
		const pm = { diff: new Moments(), metric: new Moments() };
		for (const r of runs) {
			const v = r.values[site];
			set.moments[site].diff.add(v.diff);
			set.moments[site].metric.add(v.metric);
			pm.diff.add(v.diff);
			pm.metric.add(v.metric);
		}
		pair[site] = { diff: pm.diff.mean, metric: pm.metric.mean };
		res.matrices[site] = rows(pm.metric.mean, r0.values[site].cols);
	}
	const each = [];
	for (const r of runs) {
		set.clean.add([r.clean_diff]);
		set.corr.add([r.corrupted_diff]);
		corr.add([r.corrupted_diff]);
		each.push(r.corrupted_diff);
	}
	res.corrupted_logit_diff = corr.mean[0];
	if (set.opts.noise) res.corrupted_logit_diffs = each;
	set.results.push(res);
	set.perPair.push({ index: i, values: pair });
	set.nPairs++;
	set.nRuns += runs.length;
	if (!set.firstMean) set.firstMean = performance.now() - set.t0;
}

// addLabels tracks which positions' tokens agree across the pairs
// (promptset's position labels: "*" where they vary, "→" where the texts differ).
function addLabels(set, clean, corrupted) {
	if (!set.labels) set.labels = { clean, corrupted, cv: clean.map(() => false), kv: clean.map(() => false), differs: clean.map(() => false) };
	const L = set.labels;
	clean.forEach((t, i) => {
		L.cv[i] = L.cv[i] || t.id !== L.clean[i].id;
		L.kv[i] = L.kv[i] || corrupted[i].id !== L.corrupted[i].id;
		L.differs[i] = L.differs[i] || t.id !== corrupted[i].id;
	});
}

function positionLabels(set) {
	const L = set.labels;
	if (!L) return Array.from({ length: set.T }, (_, i) => `${i} `);
	return L.clean.map((t, i) => {
		let text = L.cv[i] ? "*" : t.text;
		if (L.differs[i]) text += "→" + (L.kv[i] ? "*" : L.corrupted[i].text).replace(/^ +/, "");
		return `${i} ${text}`;
	});
}

const rows = (vals, cols) => {
	const out = [];
	for (let i = 0; i + cols <= vals.length; i += cols) out.push(Array.from(vals.subarray(i, i + cols)));
	return out;
};

function finish(set, status, message) {
	if (!set.running) return;
	set.running = false;
	set.status = status;
	clearInterval(state.timer);
	$("run-progress").hidden = true;
	const ms = performance.now() - set.t0;
	set.seconds = ms / 1000;
	const n = weights.pool().status().ready;
	if (status === "done") setStatus("run-status", `Averaged ${set.nPairs} of ${set.pairs.length} pair${set.pairs.length > 1 ? "s" : ""} (${set.nRuns} runs${set.nSkipped ? `, ${set.nSkipped} skipped: see the table` : ""}) in ${seconds(ms)} with ${n} worker${n > 1 ? "s" : ""}.`);
	else if (status === "cancelled") setStatus("run-status", `Cancelled after ${seconds(ms)}: ${set.nPairs} of ${set.pairs.length} pairs averaged (Run starts the set again).`);
	else setStatus("run-status", `The run failed: ${message}`);
	if (set.scheduler) set.scheduler.stop();
	hooks.changed();
}

function progress() {
	const set = state.set;
	if (!set || !set.running) return;
	const ms = performance.now() - set.t0;
	$("run-bar").max = set.cellsTotal || 1;
	$("run-bar").value = Math.min(set.cellsDone, set.cellsTotal);
	let left = "";
	if (set.cellsDone > 0 && set.cellsDone < set.cellsTotal) left = ` · about ${seconds((ms * (set.cellsTotal - set.cellsDone)) / set.cellsDone)} left`;
	$("run-text").textContent = `${set.next} of ${set.pairs.length} pairs · ${seconds(ms)} elapsed${left}`;
}

// ---------------------------------------------------------------- the view

// which is the matrix kind shown for metric: the logit difference or the
// set's metric; null when the set was not averaged for it.
function which(set, metric) {
	if (metric === "logit_diff") return "diff";
	return metric === set.metric ? "metric" : null;
}

// model is what the set view shows: the mean, the spread or one pair, for
// the view and metric chosen (a heatmap-data.js model, with std and n).
function model(set, show, metric) {
	const kind = which(set, metric);
	const parts = set.view.parts.map((name) => sites.site(set.info, name));
	const cols = sites.cols(parts[0], set.T), nrows = parts.reduce((a, s) => a + s.rows, 0);
	const values = new Float64Array(nrows * cols).fill(NaN), std = new Float64Array(nrows * cols).fill(NaN);
	const rowLabels = [], rowOf = [], breaks = [];
	const pair = show !== "mean" && show !== "std" ? set.perPair.find((p) => p.index === Number(show)) : null;
	let r0 = 0;
	for (const s of parts) {
		if (r0) breaks.push(r0);
		for (let r = 0; r < s.rows; r++) {
			rowLabels.push(s.row_labels[r]);
			rowOf.push({ site: s, r });
		}
		const mo = set.moments[s.name][kind || "diff"];
		if (kind && mo.n > 0) {
			const src = pair ? pair.values[s.name][kind] : show === "std" ? mo.std() : mo.mean;
			values.set(src, r0 * cols);
			std.set(mo.std(), r0 * cols);
		}
		r0 += s.rows;
	}
	let mx = 0;
	for (const v of values) if (Number.isFinite(v)) mx = Math.max(mx, Math.abs(v));
	const m = METRICS[metric];
	const labels = positionLabels(set);
	const what = pair ? `pair ${pair.index}` : show === "std" ? `standard deviation over ${set.nRuns} runs` : `mean over ${set.nRuns} runs`;
	const dir = set.opts.direction === "noise" ? "noising: the clean run with one corrupted activation" : "denoising: the corrupted run with one clean activation";
	const corruption = set.opts.noise ? `Gaussian noise σ = ${set.opts.noise.scale} × std(wte)${set.sigma ? ` = ${precise(set.sigma)}` : ""}, ${set.runsPer} seeds from ${set.opts.noise.seed}` : "corrupted texts";
	return {
		site: set.view.name, metric, problem: kind ? null : "other", computed: set.nPairs ? nrows : 0,
		title: `${set.view.short} · ${m.label} · ${what}`,
		subtitle: `${dir}; ${corruption}; ${set.nPairs} of ${set.pairs.length} pairs`,
		rows: nrows, cols, values, std, n: set.nRuns, pair: pair ? pair.index : null, show,
		rowLabels, rowOf, breaks,
		colLabels: sites.colLabels(parts[0], sites.positionLabels({ position_labels: labels })),
		colNames: sites.colLabels(parts[0], labels),
		rowAxis: parts[0].row_title, colAxis: parts[0].col_title,
		range: niceMax(mx), short: set.view.short,
	};
}

function scheduleRender() {
	if (state.frame) return;
	state.frame = requestAnimationFrame(() => {
		state.frame = 0;
		render();
	});
}

// render shows the set view when the design averages, the pair view otherwise.
export function render() {
	const on = active();
	$("set-results").hidden = !on;
	$("results").hidden = on;
	const set = state.set;
	if (!on) return;
	if (!set) {
		$("set-caption").textContent = design.mode() === "set" ? "Run the prompt set to see its averaged heatmap." : "Run to see the heatmap averaged over the noise seeds.";
		$("set-progress").textContent = "";
		$("set-heatmap").hidden = true;
		$("set-pairs").hidden = true;
		return;
	}
	$("set-progress").textContent = `${set.nPairs + set.nSkipped} of ${set.pairs.length} pairs done${set.nSkipped ? ` (${set.nSkipped} skipped)` : ""} · ${set.nRuns} runs averaged${set.running ? "…" : ""}`;
	fillShow(set);
	const m = model(set, $("set-show").value, link.metric());
	state.model = m;
	$("set-caption").textContent = `Showing: ${m.title}${set.opts.direction === "noise" ? " (noising)" : " (denoising)"}`;
	$("set-problem").hidden = !m.problem;
	$("set-problem").textContent = m.problem ? `This set was averaged for ${METRICS[set.metric].label}; choose it or the logit difference, or Run again for ${METRICS[link.metric()].label}.` : "";
	const d = (set.info.directions || []).find((x) => x.name === set.opts.direction);
	$("set-howto").textContent = `${d ? d.help.split("\n\n")[0] : ""} Each cell is the mean over the runs (one per pair${set.opts.noise ? " and noise seed" : ""}) of the metric, computed per run with that run's own baselines; hover a cell for its standard deviation.`;
	$("set-heatmap").hidden = set.nPairs === 0;
	if (set.nPairs) {
		state.heat.render(m);
		if (!set.firstPaint) set.firstPaint = { nPairs: set.nPairs, running: set.running, seconds: (performance.now() - set.t0) / 1000 };
	}
	renderPairs(set);
}

function fillShow(set) {
	const sel = $("set-show");
	if (sel.options.length === 2 + set.perPair.length && sel.dataset.set === set.id) return;
	const keep = sel.value;
	sel.dataset.set = set.id;
	sel.replaceChildren(el("option", { value: "mean", text: "Mean over the runs" }), el("option", { value: "std", text: "Standard deviation over the runs" }),
		...set.perPair.map((p) => el("option", { value: String(p.index), text: `Pair ${p.index}: ${visible(set.pairs[p.index].clean).slice(0, 60)}` })));
	sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "mean";
}

function renderPairs(set) {
	const t = $("set-pairs");
	t.hidden = false;
	if (t.dataset.shown === `${set.id}:${set.results.length}`) return;
	t.dataset.shown = `${set.id}:${set.results.length}`;
	const num = (v) => (Number.isFinite(v) ? v.toFixed(4) : "—");
	t.tBodies[0].replaceChildren(...set.results.map((r) => el("tr", { class: r.error ? "skipped" : "" },
		el("td", { text: String(r.index) }), el("td", { text: r.template || "" }),
		el("td", { class: "tok", text: visible(r.clean, true) }), el("td", { class: "tok", text: visible(r.corrupted, true) }),
		el("td", { text: r.error ? "" : num(r.clean_logit_diff) }), el("td", { text: r.error ? "" : num(r.corrupted_logit_diff) }),
		el("td", { text: r.error ? `skipped (${r.reason}): ${r.error}` : "ran" }))));
}

function tooltip(cell, x, y) {
	const tip = $("set-tooltip"), m = state.model;
	if (!cell || !m) {
		tip.hidden = true;
		return;
	}
	const { site, r } = m.rowOf[cell.r];
	const label = site.row_labels[r];
	const row = /^\d+$/.test(label) ? `${site.row_title} ${label}` : label;
	const i = cell.r * m.cols + cell.c;
	const head = `${row} · ${site.col_title} ${m.colLabels[cell.c]}`;
	const mean = state.set.moments[site.name][which(state.set, m.metric) || "diff"].mean;
	const meanV = mean ? mean[r * m.cols + cell.c] : NaN;
	const body = m.pair !== null
		? `pair ${m.pair}: ${precise(m.values[i])}\nmean ${precise(meanV)} ± ${precise(m.std[i])} (std, ${m.n} runs)`
		: `mean ${precise(meanV)} ± ${precise(m.std[i])} (std over ${m.n} runs)`;
	tip.textContent = `${head}\n${METRICS[m.metric].short}: ${body}`;
	tip.hidden = false;
	tip.style.left = `${x + 14}px`;
	tip.style.top = `${y + 14}px`;
}

// ---------------------------------------------------------------- export

// record is the set's JSON as the CLI writes it (promptset.Record): the
// mean and spread of the logit difference under the site table's field
// for the direction (patch_resid_post, noise_resid_post, …, and …_std),
// the metric's in matrices and matrices_std, the baselines, the noise,
// and one record per pair.
export function record() {
	const set = state.set;
	if (!set) throw new Error("no set has run yet");
	const [c, cs, k, ks] = [set.clean.mean ? set.clean.mean[0] : 0, set.clean.std()[0] || 0, set.corr.mean ? set.corr.mean[0] : 0, set.corr.std()[0] || 0];
	const rec = {
		metric: set.metric, direction: set.opts.direction, corruption: set.corruption,
		...(set.opts.noise ? { noise: { ...set.opts.noise, sigma: set.sigma } } : {}),
		...(set.source ? { pairs_source: set.source } : {}),
		...(set.seed !== null ? { pairs_seed: set.seed } : {}),
		tokens: set.T, position_labels: positionLabels(set),
		n_pairs: set.nPairs, n_skipped: set.nSkipped, n_runs: set.nRuns,
		clean_logit_diff: c, clean_logit_diff_std: cs, corrupted_logit_diff: k, corrupted_logit_diff_std: ks,
		pairs: set.results,
	};
	for (const name of set.view.parts) {
		const s = sites.site(set.info, name), mo = set.moments[name];
		if (!mo.diff.n) continue;
		const field = set.opts.direction === "noise" ? s.noise_field : s.field;
		const cols = sites.cols(s, set.T);
		if (s.rows === 1 && s.columns === "positions") {
			rec[field] = Array.from(mo.diff.mean);
			rec[`${field}_std`] = Array.from(mo.diff.std());
		} else {
			rec[field] = rows(mo.diff.mean, cols);
			rec[`${field}_std`] = rows(mo.diff.std(), cols);
		}
		if (set.metric !== "logit_diff") {
			rec.matrices = rec.matrices || {};
			rec.matrices_std = rec.matrices_std || {};
			rec.matrices[name] = rows(mo.metric.mean, cols);
			rec.matrices_std[name] = rows(mo.metric.std(), cols);
		}
	}
	return JSON.stringify(rec, null, 1);
}

// snapshot is the set for tests: its counts, means, spreads and per-pair values.
export function snapshot() {
	const set = state.set;
	if (!set) return null;
	const arr = (a) => (a ? Array.from(a, (v) => (Number.isFinite(v) ? v : null)) : null);
	return {
		running: set.running, status: set.status, pairs: set.pairs.length, done: set.next, nPairs: set.nPairs, nSkipped: set.nSkipped, nRuns: set.nRuns,
		T: set.T, sigma: set.sigma, seconds: set.seconds || null, firstMeanSeconds: set.firstMean / 1000, firstPaint: set.firstPaint || null, peak: set.peak,
		painted: !$("set-heatmap").hidden && !!state.model && state.model.n > 0 && state.model.n === set.nRuns,
		moments: Object.fromEntries(Object.entries(set.moments).map(([s, m]) => [s, { n: m.diff.n, diff: arr(m.diff.mean), diffStd: arr(m.diff.std()), metric: arr(m.metric.mean), metricStd: arr(m.metric.std()) }])),
		perPair: set.perPair.map((p) => ({ index: p.index, values: Object.fromEntries(Object.entries(p.values).map(([s, v]) => [s, { diff: arr(v.diff), metric: arr(v.metric) }])) })),
		results: set.results,
	};
}

// ---------------------------------------------------------------- start

export function initSets(h) {
	Object.assign(hooks, h);
	state.heat = new Heatmap($("set-heatmap"));
	const canvas = $("set-heatmap");
	canvas.addEventListener("mousemove", (ev) => {
		const rect = canvas.getBoundingClientRect();
		const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
		const cell = state.heat.cellAt(x, y);
		state.heat.hover = cell;
		state.heat.render();
		tooltip(cell, x + canvas.offsetLeft, y + canvas.offsetTop);
	});
	canvas.addEventListener("mouseleave", () => {
		state.heat.hover = null;
		state.heat.render();
		$("set-tooltip").hidden = true;
	});
	window.addEventListener("resize", () => state.model && !$("set-results").hidden && state.heat.render());
	$("set-show").addEventListener("change", render);
	const name = () => `patchlab-set-${slug(state.set.source || request().clean)}`;
	$("set-export-json").addEventListener("click", () => {
		if (state.set) save(new Blob([record()], { type: "application/json" }), `${name()}.json`);
	});
	$("set-export-png").addEventListener("click", async () => {
		if (state.model && state.set.nPairs) save(await state.heat.png(2), `${name()}-${link.view()}-${$("set-show").value}.png`);
	});
	$("set-export-csv").addEventListener("click", () => {
		if (state.model && state.set.nPairs) save(new Blob([csv(csvRows(state.model))], { type: "text/csv" }), `${name()}-${link.view()}-${$("set-show").value}.csv`);
	});
}
