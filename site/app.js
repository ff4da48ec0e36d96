// The page, put together: this module creates no state of its own beyond
// the list of view modules and which one is shown; each part owns its
// state and says so at its top:
//   link.js      the URL: view and metric chosen, a run the link asked for
//   weights.js   the weights, the worker pool, the model's Info, its status
//   texts.js     the texts, their live tokenization, the examples
//   run.js       Run and Cancel, the sweep in progress, its progress
//   results.js   the baselines and sweeps computed
//   tables.js    the two top-20 tables (no state)
//   heatmap-view.js  the heatmap view (one module per view)
// app.js wires them: the selectors, the export buttons, what changes when
// a model loads or the texts change, and window.patchlab for tests.

import { $, el, setStatus } from "./dom.js";
import { METRICS } from "./metrics.js";
import { option } from "./urlstate.js";
import { save, slug } from "./export.js";
import { EngineError } from "./errors.js";
import { results } from "./results.js";
import * as sites from "./sites.js";
import * as link from "./link.js";
import * as weights from "./weights.js";
import * as texts from "./texts.js";
import * as runs from "./run.js";
import { renderTables, tablesCSV } from "./tables.js";
import { heatmapView } from "./heatmap-view.js";
import { makeKit } from "./reportkit.js";
import * as inspect from "./inspect-data.js";
import { attentionView } from "./views/attention.js";
import { lensView } from "./views/lens.js";
import { dlaView } from "./views/dla.js";
import { atpView } from "./views/atp.js";
import * as design from "./design.js";
import * as sets from "./promptset.js";

// The view modules, each {name, mount, update, exports, model}. Every view
// of the engine is shown by the heatmap today; a module for attention
// patterns, say, is added here and chosen by the view it shows.
const VIEW_MODULES = [heatmapView];
const shown = () => VIEW_MODULES[0];
// The views that look inside the two runs (views/), chosen by the View
// selector (link.look()); the heatmap above is shown when none is.
const LOOKS = [attentionView, lensView, dlaView, atpView];
const look = () => LOOKS.find((v) => v.name === link.look()) || null;

// viewState is what a view module is given to show: the loaded model's
// Info, the view and metric chosen, the texts last run (request, key,
// baseline) and their sweeps, whether a run is in progress, and whether
// the texts typed differ from the ones last run.
function viewState() {
	const info = weights.info();
	return {
		info,
		view: design.viewFor(sites.view(info, link.view())),
		metric: link.metric(),
		baseline: results.baseline,
		request: results.request,
		key: results.key,
		sweepOf: (site) => results.sweep(results.key, site, design.direction()),
		running: runs.running() || sets.running(),
		computing: runs.computing(),
		queued: runs.queued(),
		stale: results.key !== texts.keyOf(texts.request()),
	};
}

// render shows the state everywhere it shows: the tables, the view, the
// buttons, the warnings of the run; after Run, it brings the result into view.
function render() {
	renderTables(results.baseline);
	const lk = look();
	$("heat-figure").hidden = !!lk;
	for (const v of LOOKS) v.show(v === lk);
	if (lk) lk.update(viewState());
	else shown().update(viewState());
	sets.render();
	updateButtons();
	texts.showRunWarnings(results.key, results.baseline && results.baseline.warnings);
	if (reveal && results.baseline && revealResult()) reveal = false;
	if (!runs.running() && !runs.starting()) reveal = false;
}

// reveal: a Run asked for its result to be shown once it has one.
let reveal = false;

// revealResult scrolls the result into view unless it is in view already;
// false while there is none to show.
function revealResult() {
	const fig = document.querySelector("figure.heat"), canvas = $("heatmap");
	if (canvas.hidden) return false;
	const r = canvas.getBoundingClientRect();
	if (r.top < 0 || r.bottom > window.innerHeight) fig.scrollIntoView({ block: "start" });
	return true;
}

function updateButtons() {
	$("run").disabled = !weights.ready() || runs.running() || runs.starting() || sets.running();
	$("cancel").disabled = !runs.running() && !sets.running();
	const have = !!results.baseline;
	for (const id of ["export-png", "export-csv", "export-tables", "export-json", "export-kit"]) $(id).disabled = !have;
}

// ---------------------------------------------------------------- selectors

// fillViews offers the engine's views, and the help on its sites.
function fillViews(info) {
	const all = sites.views(info);
	$("site").replaceChildren(...all.map((v) => el("option", { value: v.name, text: v.label })));
	$("site").value = link.settleView(all.map((v) => v.name));
	$("site").disabled = false;
	$("help-sites").replaceChildren(...info.sites.map((s) => el("li", {}, el("code", { text: s.name }), `: ${s.description}`)));
}

function fillMetrics() {
	for (const [k, v] of Object.entries(METRICS)) $("metric").append(el("option", { value: k, text: v.label }));
}

// fillLooks offers the heatmap and the views inside the runs.
function fillLooks() {
	$("look").replaceChildren(el("option", { value: "heatmap", text: "Patching heatmap" }), ...LOOKS.map((v) => el("option", { value: v.name, text: v.label })));
	$("look").value = link.settleLook(["heatmap", ...LOOKS.map((v) => v.name)]);
	$("look").addEventListener("change", () => setLook($("look").value));
}

// setLook shows a view (by name) and puts it in the link.
function setLook(name) {
	link.setLook(name);
	$("look").value = link.look();
	link.writeLink(texts.request());
	render();
}

function bindSelectors() {
	$("site").addEventListener("change", () => {
		link.setView($("site").value);
		link.writeLink(texts.request());
		runs.viewChanged(link.view());
		render();
		// Compute the new view right away when the shown texts are the ones typed.
		const m = shown().model(viewState());
		if (!design.isSetRun() && m && m.computed < m.rows && results.key === texts.keyOf(texts.request()) && !(look() === atpView && atpView.estimateOnly())) runs.runAfter();
	});
	$("metric").addEventListener("change", () => {
		link.setMetric($("metric").value);
		link.writeLink(texts.request());
		render();
	});
}

// ---------------------------------------------------------------- exports

function baseName() {
	return `patchlab-${slug(results.request.clean)}`;
}

function bindExports() {
	for (const fmt of Object.values(heatmapView.exports)) {
		$(fmt.button).addEventListener("click", async () => {
			const out = await fmt.make();
			if (out) save(out.blob, `${baseName()}-${link.view()}-${link.metric()}.${out.ext}`);
		});
	}
	$("export-tables").addEventListener("click", () => {
		if (results.baseline) save(tablesCSV(results.baseline), `${baseName()}-top20.csv`);
	});
	$("export-json").addEventListener("click", async () => {
		try {
			const text = await exportJSON();
			save(new Blob([text], { type: "application/json" }), `${baseName()}.json`);
			setStatus("export-status", "");
		} catch (e) {
			setStatus("export-status", `No JSON: ${e.message}`);
		}
	});
	$("export-kit").addEventListener("click", async () => {
		setStatus("export-status", "Writing the report kit…");
		try {
			const m = heatmapView.model(viewState());
			const blob = await makeKit({ pool: weights.pool(), m, request: results.request, record: recordArgs() });
			save(blob, `${baseName()}-${link.view()}-${link.metric()}-report.zip`);
			setStatus("export-status", "");
		} catch (e) {
			setStatus("export-status", `No report kit: ${e.message}`);
		}
	});
	$("copy-link").addEventListener("click", async () => {
		const left = link.writeLink(texts.request()) ? "" : " (without the texts too long for a link)";
		try {
			await navigator.clipboard.writeText(location.href);
			setStatus("export-status", `The link is copied${left}.`);
		} catch {
			setStatus("export-status", `Copy the link from the address bar: it carries this analysis${left}.`);
		}
	});
}

// exportJSON asks a worker for analysis.Record of every finished sweep of
// the texts last run (field names as the command-line tool writes them).
async function exportJSON() {
	const { sweeps, metric } = recordArgs();
	return weights.pool().record(results.request, sweeps, metric);
}

// recordArgs is what the JSON export is made of (the report kit's record too).
function recordArgs() {
	const key = results.key, info = weights.info();
	if (!key || !info) throw new Error("nothing has run yet");
	const sweeps = [];
	for (const s of info.sites) {
		const sw = results.sweep(key, s.name, design.direction());
		if (sw && sw.complete) sweeps.push(sw);
	}
	const probsOK = sweeps.every((sw) => sw.probs);
	const metric = METRICS[link.metric()].needsProbs && !probsOK ? "logit_diff" : link.metric();
	return { sweeps: sweeps.map((sw) => ({ site: sw.site, direction: sw.direction, cells: sw.cells })), metric };
}

// ---------------------------------------------------------------- start

function onInput() {
	texts.scheduleTokenize();
	link.writeLinkSoon(texts.request());
	render();
}

function init() {
	fillMetrics();
	const fromLink = link.readLink();
	fillLooks();
	let frame = 0; // a render asked for by a view's data, at the next frame
	inspect.initInspect({ pool: () => weights.pool(), key: () => results.key, changed: () => { frame ||= requestAnimationFrame(() => { frame = 0; render(); }); } });
	$("metric").value = link.metric();
	texts.initTexts({
		tokenize: (r) => weights.pool().tokenize(r),
		contextSize: () => (weights.info() ? weights.info().config.n_ctx : 1024),
		onTokens: render,
		onInput,
	}, Object.fromEntries(texts.FIELDS.map((f) => [f, fromLink[f] ?? texts.DEFAULT_TEXTS[f]])));
	runs.initRun({
		changed: render,
		rowArrived: () => {
			shown().update(viewState(), { soon: true });
			runs.updateProgress();
		},
	}, Number(option("row_delay_ms")) || 0);
	$("run").addEventListener("click", () => {
		reveal = true;
		if (design.isSetRun()) sets.run();
		else runs.run();
	});
	$("cancel").addEventListener("click", () => {
		runs.cancel();
		sets.cancel();
	});
	design.initDesign({
		changed() {
			link.writeLinkSoon(texts.request());
			render();
		},
	});
	sets.initSets({ changed: render });
	bindSelectors();
	bindExports();
	weights.initWeights({
		onLoaded(info) {
			// More workers, if they pay on this device (pool.js), unless the address asks for a count.
			weights.pool().grow(info.bytes, Number(option("workers")) >= 1);
			fillViews(info);
			design.fill(info);
			render();
			texts.tokenizeNow();
			if (link.takeAutoRun()) $("run").click();
		},
		onDropping() {
			if (runs.running()) runs.cancel(); // its timer and progress go with it
			sets.cancel();
		},
		onDropped() {
			results.clear(); // results of the previous model are no results of the next
			inspect.clear();
			render();
			texts.scheduleTokenize();
		},
		onLost: updateButtons,
		onWorkers() {
			// A tokenization lost with a worker is asked again.
			if (!texts.upToDate()) texts.scheduleTokenize();
		},
		onNote(text, how) {
			// A lost worker is said again when the run it was in ends.
			if (how.lost) runs.noteLost(text);
		},
	});
	shown().mount($("results"), {
		rerunWithProbs() {
			// Put the texts of the shown heatmap back before running them again.
			if (results.request && results.key !== texts.keyOf(texts.request())) texts.setTexts(results.request);
			runs.run({ probs: true });
		},
		// openHead shows head h of layer l's attention pattern (a cell of z clicked).
		openHead(l, h) {
			attentionView.open(l, h);
			setLook("attention");
		},
	});
	for (const v of LOOKS) v.mount($("looks"), {
		changed: render,
		// For the attribution-patching view: the pool, an exact sweep of some
		// rows (run.js's opts.rows), the method the link carries.
		pool: () => weights.pool(),
		runExact: (opts) => runs.run(opts),
		method: link.method,
		setMethod(m) {
			link.setMethod(m);
			link.writeLink(texts.request());
		},
	});
	render();
	texts.tokenizeNow();
	if ("serviceWorker" in navigator && window.isSecureContext && option("sw") !== "0") {
		navigator.serviceWorker.register("sw.js").catch((e) => console.warn("patchlab: no service worker:", e));
	}
}

// A handle for tests, benchmarks and the curious (read-only views of the state).
window.patchlab = {
	status: () => ({
		ready: weights.ready(),
		running: runs.running() || sets.running(),
		workers: weights.pool().status(),
		info: weights.info(),
		runStatus: $("run-status").textContent,
		modelStatus: $("model-status").textContent,
		notes: weights.notes(),
		loads: weights.loads(),
	}),
	heatmap: () => {
		const m = heatmapView.model(viewState());
		return m && { ...m, values: Array.from(m.values, (v) => (Number.isFinite(v) ? v : null)), rowOf: undefined, layout: heatmapView.layout() };
	},
	sweep: (site) => {
		const sw = results.sweep(results.key, site, design.direction());
		return sw && { site, rows: sw.rows, cols: sw.cols, probs: sw.probs, done: Array.from(sw.done), cells: Array.from(sw.cells, (v) => (Number.isFinite(v) ? v : null)) };
	},
	baseline: () => results.baseline,
	tokens: () => texts.tokens(),
	// inspected(run) is what the views inside the runs show of run ("clean",
	// "corrupted") of the texts last run, once it arrived: lens metric, DLA,
	// attention patterns [L][H][T][T] and the lens's top-1 ids (null per
	// row still computing); look(name) opens a view; viewTimings() in ms.
	inspected: (run) => {
		const e = results.key && inspect.get(results.key, results.request, run);
		if (!e || !e.views) return null;
		const { layers: L, heads: H, positions: T } = e.views;
		const attn = Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) => {
			const p = inspect.attention(e, l, h);
			return Array.from({ length: T }, (_, q) => Array.from(p.subarray(q * T, (q + 1) * T)));
		}));
		return { ...e.views, attn, top1: e.top1 && e.top1.map((r) => r && r.ids), top1Tokens: e.top1 && e.top1.map((r) => r && r.tokens) };
	},
	look: (name, run) => {
		if (run) inspect.setRun(run);
		setLook(name);
	},
	viewTimings: inspect.timings,
	// atp() is what the attribution-patching view shows (views/atp.js).
	atp: () => atpView.model(viewState()),
	timings: () => {
		const w = weights.timings();
		return { ...w, ...runs.timings(), marks: w.marks && { ...w.marks, tokens: texts.firstShown() } };
	},
	memory: () => weights.pool().memory(),
	// growWith({t1, together}) sizes the pool from these probe measurements
	// instead of its own (pool.js's decideWorkers; tests).
	growWith: (m) => weights.pool().growWith(m),
	exportJSON,
	// The design and the averaged runs (design.js, promptset.js).
	design: design.snapshot,
	set: sets.snapshot,
	setRecord: sets.record,
	setJSONL: design.setJSONL,
	setRowDelay: runs.setRowDelay,
	run: (opts) => (design.isSetRun() ? sets.run() : runs.run(opts || {})),
	cancel: runs.cancel,
	// crashWorker(i, kind) makes worker i fail, for the fault tests: "close",
	// "throw", "panic", "oom", "start-fatal" or "half-close" (see worker.js).
	crashWorker: (i, kind) => weights.pool().debug(i, kind),
	// storeFault(kind) makes Cache Storage fail in every worker given a
	// conversion or a load from now on: "open" (caches.open rejects) or
	// "quota" (every put is refused); null: no more faults in new workers.
	storeFault: weights.setStoreFault,
	EngineError,
};

init();
