// The page: inputs with live tokenization, runs, the heatmap, exports.
// Nothing typed by a user (or read from the URL, or from the model's
// vocabulary) is ever inserted as HTML: every text goes in by textContent.

import { Pool, workerCount } from "./pool.js";
import { METRICS, VIEWS, metricValue, metricProblem, shape, rowLabel, rowCost, Sweep } from "./model.js";
import { Heatmap, format, precise, niceMax } from "./heatmap.js";
import { readState, writeState, option } from "./urlstate.js";
import { csv, save, slug } from "./export.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["clean", "corrupted", "clean_target", "corrupted_target"];
const DEFAULTS = {
	clean: "Michelle Jones was a top-notch student. Michelle",
	corrupted: "Michelle Smith was a top-notch student. Michelle",
	clean_target: " Jones",
	corrupted_target: " Smith",
	site: "resid_post",
	metric: "logit_diff",
};
const MB = 1048576;

const state = {
	site: DEFAULTS.site,
	metric: DEFAULTS.metric,
	tokens: null, // the last tokenization, of tokensKey
	tokensKey: null,
	baseline: null, // the unpatched runs of baselineKey
	baselineKey: null,
	sweeps: new Map(), // request key + site → Sweep
	run: null, // the sweep in progress
	pendingRun: false, // run the shown view when the current run ends
	ready: false,
	info: null,
	rowDelay: 0,
	timings: {},
	focus: null,
	notes: [], // what the pool had to say (a corrupt cache entry, a worker lost)
	loads: 0, // models loaded
};

// For tests: Cache Storage fails in the workers ("open", "quota"; see worker.js).
let storeFault = null;
let pool = newPool();
const heat = new Heatmap($("heatmap"));

// ---------------------------------------------------------------- helpers

const request = () => Object.fromEntries(FIELDS.map((f) => [f, $(f).value]));
const keyOf = (r) => JSON.stringify(FIELDS.map((f) => r[f]));
const sweepKey = (key, site) => `${key}\u0000${site}`;
const mb = (n) => (n / MB).toFixed(1);

// visible shows a token's spaces and control characters: the usual ones
// as ␣ ↵ ⇥ ␍, the other C0 controls and DEL as their control pictures (␀,
// ␛, ␡), and the invisible ones that would reorder or hide text (C1
// controls, bidirectional overrides and isolates, zero-width characters,
// the byte-order mark) by their code point, ⟨U+202E⟩.
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb ]/g;
function visible(s, keepSpaces = false) {
	return String(s).replace(HIDDEN, (c) => {
		if (keepSpaces && (c === " " || c === "\n" || c === "\t")) return c;
		const n = c.charCodeAt(0);
		if (c === " ") return "␣";
		if (c === "\n") return "↵";
		if (c === "\t") return "⇥";
		if (c === "\r") return "␍";
		if (n < 0x20) return String.fromCharCode(0x2400 + n);
		if (n === 0x7f) return "␡";
		return `⟨U+${n.toString(16).toUpperCase().padStart(4, "0")}⟩`;
	});
}

function el(tag, props = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props)) {
		if (k === "class") e.className = v;
		else if (k === "text") e.textContent = v;
		else e.setAttribute(k, v);
	}
	e.append(...children);
	return e;
}

function setStatus(id, text) {
	$(id).textContent = text;
}

function seconds(ms) {
	const s = ms / 1000;
	return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// ---------------------------------------------------------------- the pool

function newPool() {
	const p = new Pool({
		onProgress: showProgress,
		onNote: (text, how = {}) => {
			state.notes.push(text);
			// A lost worker is said again when the run it was in ends.
			if (how.lost && state.run) state.run.notes.push(text);
			setStatus("run-status", text);
		},
		onWorkers: (st) => {
			if (st.ready === st.total && !state.timings.allWorkersReadySeconds) state.timings.allWorkersReadySeconds = performance.now() / 1000;
			modelStatus();
			// A tokenization lost with a worker is asked again.
			if (state.tokensKey !== keyOf(request())) scheduleTokenize();
		},
		onFatal: (text) => {
			// No worker is left: nothing can run until a model is opened again.
			state.ready = false;
			setStatus("model-status", text);
			$("load-progress").hidden = true;
			showWeights(true);
			updateButtons();
		},
	});
	p.storeFault = storeFault;
	return p;
}

const PHASES = {
	weights: "Loading the weights",
	read: "Reading the file",
	convert: "Converting to the web format",
	store: "Keeping the converted weights in this browser",
	download: "Downloading",
};

function showProgress(m) {
	$("load-progress").hidden = false;
	$("load-bar").max = m.total || 1;
	$("load-bar").value = m.done;
	$("load-text").textContent = `${PHASES[m.phase] || m.phase}: ${mb(m.done)} / ${mb(m.total)} MB`;
}

// calibrated says what the converter measured, if it calibrated the width.
function calibrated(cal) {
	if (!cal) return "";
	const pct = (x) => `${(100 * x).toFixed(2)}%`;
	return ` (calibrated: heatmap cells within ${pct(cal.worst)} of the float32 range)`;
}

function modelStatus() {
	if (!state.info) return;
	const c = state.info.config, st = pool.status();
	const mem = st.memory.filter(Boolean).map((m) => m.wasm);
	const per = mem.length ? ` · ${Math.round(Math.max(...mem))} MB per worker` : "";
	setStatus("model-status", `Model: GPT-2, ${c.n_layer} layers × ${c.n_head} heads, width ${c.n_embd} · ${state.info.quantized ? `web format, ${state.info.bits}-bit codes${calibrated(state.info.calibration)}` : "float32"} · ${st.ready} of ${st.total} workers ready${per}`);
}

// ---------------------------------------------------------------- weights

// One load or conversion at a time: the weight controls are disabled while
// one is in progress, and a request that comes anyway (a file picked or a
// click already on its way) does nothing.
let weightsBusy = false;

function setWeightsBusy(busy) {
	weightsBusy = busy;
	for (const e of document.querySelectorAll("#weights input, #weights button")) e.disabled = busy;
	$("weights").setAttribute("aria-busy", String(busy));
}

async function weightsTask(fn) {
	if (weightsBusy) return;
	setWeightsBusy(true);
	try {
		await fn();
	} finally {
		setWeightsBusy(false);
	}
}

async function startWeights() {
	let source = null, why = "";
	try {
		const res = await fetch("weights/manifest.json", { cache: "no-cache" });
		// A host that answers every path with its home page has no weights either.
		if (res.ok && /^text\/html\b/i.test(res.headers.get("content-type") || "")) why = "weights/manifest.json beside this page is an HTML page, not a manifest: the site has no converted weights. ";
		else if (res.ok) source = { kind: "web", manifest: await res.text(), base: res.url, name: "weights/manifest.json" };
	} catch {
		// offline without a cached manifest, or no weights beside the page
	}
	if (!source) {
		const m = await PatchlabStore.userManifest();
		if (m) source = { kind: "web", manifest: m, base: null };
	}
	if (!source) {
		showWeights(true);
		if (why) $("weights-why").textContent = why + $("weights-why").textContent.replace(/^No converted weights were found beside this page\. /, "");
		setStatus("model-status", "No model yet: open GPT-2's weights below.");
		return;
	}
	await loadModel(source);
}

function modelBytes(source) {
	if (source.kind === "blob") return source.blob.size;
	try {
		return JSON.parse(source.manifest).shards.reduce((a, s) => a + s.size, 0);
	} catch {
		return 0;
	}
}

async function loadModel(source) {
	const n = workerCount(modelBytes(source), Number(option("workers")));
	setStatus("model-status", `Loading the model in ${n} worker${n > 1 ? "s" : ""}…`);
	const t = performance.now();
	let first;
	try {
		first = await pool.load(source, n);
	} catch (e) {
		$("load-progress").hidden = true;
		showWeights(true);
		$("weights-why").textContent = `The weights could not be loaded: ${e.message}`;
		setStatus("model-status", "No model: see “Model weights” below.");
		return;
	}
	state.info = first.info;
	state.ready = true;
	state.loads++;
	state.timings.loadSeconds = (performance.now() - t) / 1000;
	state.timings.pageToReadySeconds = performance.now() / 1000;
	$("load-progress").hidden = true;
	showWeights(false);
	modelStatus();
	if (first.fromNetwork > 0) setStatus("run-status", `Downloaded ${mb(first.fromNetwork)} MB of weights; the next visit loads them from this browser.`);
	updateButtons();
	tokenizeNow();
	if (state.autoRun) {
		state.autoRun = false;
		run();
	}
}

function resetPool() {
	if (state.run) cancel(); // its timer and progress go with it
	pool.terminate();
	pool = newPool();
	state.ready = false;
	state.info = null;
	state.run = null;
	// Results of the previous model are no results of the next.
	state.sweeps.clear();
	state.baseline = null;
	state.baselineKey = null;
	renderTables();
	renderHeat();
	updateButtons();
	scheduleTokenize();
}

// useBlob loads a checkpoint: in float32 as it is, or converted to the web format
// (and kept in this browser). config is its config.json's text, or null.
// The model the page has is let go of only once the new file has passed:
// its header checked (float32) or converted whole (web format). A file that is
// not a GPT-2 checkpoint leaves the page as it was.
async function useBlob(blob, config) {
	const f32 = document.querySelector("input[name=precision]:checked").value === "f32";
	const name = blob.name || "the checkpoint";
	$("weights-why").textContent = "";
	let source, unkept = null;
	try {
		if (f32) {
			setStatus("model-status", `Checking ${name}…`);
			await pool.check(blob, config);
			source = { kind: "blob", blob, config };
		} else {
			setStatus("model-status", `Converting ${name} in a worker…`);
			const c = await pool.convert(blob, config);
			// What this browser could not keep, the page keeps in memory for
			// this visit and hands to every worker it starts.
			unkept = c.unkept;
			source = { kind: "web", manifest: c.manifest, base: null, shards: c.shards };
		}
	} catch (e) {
		$("load-progress").hidden = true;
		$("weights-why").textContent = `${name} could not be ${f32 ? "opened" : "converted"}: ${e.message}`;
		if (state.ready) modelStatus();
		else setStatus("model-status", "No model: see “Model weights” below.");
		return;
	}
	resetPool();
	await loadModel(source);
	if (unkept && state.ready) {
		setStatus("run-status", `This browser cannot keep the converted weights: ${unkept}. They are in this page's memory for this visit only, and the next visit needs the file again. A small model can be opened in float32 instead, which needs no storage.`);
	}
}

async function download(url) {
	let u;
	try {
		u = new URL(url, location.href);
	} catch {
		throw new Error("that is not a URL");
	}
	if (u.protocol !== "https:" && u.origin !== location.origin) throw new Error("use an https:// URL");
	// The file's name, decoded before the download (a malformed escape, as
	// in %E0%A4%A, keeps the name as written).
	const raw = u.pathname.split("/").pop() || "model.safetensors";
	let name;
	try {
		name = decodeURIComponent(raw);
	} catch {
		name = raw;
	}
	const res = await fetch(u.href);
	if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
	const total = Number(res.headers.get("content-length")) || 0;
	const chunks = [];
	let done = 0;
	const reader = res.body.getReader();
	for (;;) {
		const { done: end, value } = await reader.read();
		if (end) break;
		chunks.push(value);
		done += value.length;
		showProgress({ phase: "download", done, total: Math.max(total, done) });
	}
	// The config.json beside it, if there is one (Hugging Face has it), for
	// the number of heads; without it heads are taken to be 64 wide.
	let config = null;
	try {
		const c = await fetch(new URL("config.json", u));
		if (c.ok) config = await c.text();
	} catch {
		// none
	}
	return { blob: new File(chunks, name, { type: "application/octet-stream" }), config };
}

$("weights-file").addEventListener("change", (ev) => {
	const files = [...(ev.target.files || [])];
	// Choosing the same file again (after another precision, say) is a change too.
	ev.target.value = "";
	weightsTask(async () => {
		const model = files.find((f) => !f.name.endsWith(".json"));
		const config = files.find((f) => f.name.endsWith(".json"));
		if (!model) {
			$("weights-why").textContent = "Choose the model.safetensors file (and, if you have it, its config.json).";
			return;
		}
		await useBlob(model, config ? await config.text() : null);
	});
});
$("weights-fetch").addEventListener("click", () => weightsTask(async () => {
	try {
		$("weights-why").textContent = "";
		const { blob, config } = await download($("weights-url").value.trim());
		await useBlob(blob, config);
	} catch (e) {
		$("load-progress").hidden = true;
		$("weights-why").textContent = `The download failed: ${e.message}. If the page's security policy blocked the host, download the file yourself and open it from disk.`;
	}
}));
function showWeights(show) {
	$("weights").hidden = !show;
	$("weights-show").setAttribute("aria-expanded", String(show));
}

$("weights-show").addEventListener("click", () => {
	showWeights($("weights").hidden);
	if (!$("weights").hidden) {
		if (state.ready) $("weights-why").textContent = "The page has a model. To use another one, open its model.safetensors from your disk or from a URL: it is read and converted in your browser, never uploaded.";
		$("weights-file").focus();
	}
});
$("weights-forget").addEventListener("click", () => weightsTask(async () => {
	try {
		await PatchlabStore.clear();
		setStatus("model-status", "The weights kept in this browser are forgotten; they are fetched again on the next visit.");
	} catch (e) {
		setStatus("model-status", `The weights kept in this browser could not be forgotten: ${e.message}`);
	}
}));

// ---------------------------------------------------------------- tokens

// Typing tokenizes after a pause (150 ms), with one tokenization at a time
// in the worker: input that comes meanwhile is tokenized once, after.
let tokenTimer = 0, tokenBusy = false, tokenAgain = false;

function scheduleTokenize() {
	clearTimeout(tokenTimer);
	tokenTimer = setTimeout(tokenizeNow, 150);
}

async function tokenizeNow() {
	clearTimeout(tokenTimer);
	if (tokenBusy) {
		tokenAgain = true;
		return;
	}
	tokenBusy = true;
	try {
		do {
			tokenAgain = false;
			const r = request();
			let t;
			try {
				t = await pool.tokenize(r);
			} catch {
				return; // the pool or the worker was replaced: asked again once it is there
			}
			state.tokens = t;
			state.tokensKey = keyOf(r);
			renderTokens(t);
			renderHeat();
		} while (tokenAgain);
	} finally {
		tokenBusy = false;
	}
}

function chip(tok, cls = "") {
	const text = el("span", { class: "t" });
	// Leading and trailing whitespace shown, dimmed.
	const v = visible(tok.text);
	const m = /^([␣↵⇥␍]*)(.*?)([␣↵⇥␍]*)$/su.exec(v);
	if (m[1]) text.append(el("span", { class: "ws", text: m[1] }));
	text.append(m[2]);
	if (m[3]) text.append(el("span", { class: "ws", text: m[3] }));
	return el("span", { class: `chip ${cls}`, title: `token ${tok.id}: ${JSON.stringify(tok.text)}` }, text, el("span", { class: "id", text: String(tok.id) }));
}

// renderChips shows a text's tokens; count is how many it has (−1: more
// than the context), when more than the ones given.
function renderChips(id, toks, classOf = () => "", count = toks.length) {
	const chips = toks.map((t, i) => chip(t, classOf(i)));
	if (count < 0 || count > toks.length) {
		chips.push(el("span", { class: "chip more", text: count < 0 ? "… and more" : `… and ${count - toks.length} more` }));
	}
	$(id).replaceChildren(...chips);
}

function countText(n) {
	if (n < 0) return `more than ${state.info ? state.info.config.n_ctx : 1024} tokens`;
	return `${n} token${n === 1 ? "" : "s"}`;
}

function renderTokens(t) {
	const differ = new Set(t.differ || []);
	const cleanN = t.clean_count ?? t.clean.length, corruptedN = t.corrupted_count ?? t.corrupted.length;
	renderChips("clean-tokens", t.clean, (i) => (differ.has(i) ? "differs" : ""), cleanN);
	renderChips("corrupted-tokens", t.corrupted, (i) => (differ.has(i) ? "differs" : ""), corruptedN);
	for (const f of ["clean_target", "corrupted_target"]) renderChips(`${f}-tokens`, t[f], () => (t[f].length === 1 && !(t.error && t.error.field === f) ? "" : "bad"));
	$("clean-count").textContent = countText(cleanN);
	$("corrupted-count").textContent = countText(corruptedN);
	for (const f of FIELDS) $(f).removeAttribute("aria-invalid");
	const e = t.error;
	$("check").hidden = !e;
	$("check-align").replaceChildren();
	if (!e) return;
	$("check-msg").textContent = visible(e.message, true);
	if (FIELDS.includes(e.field)) $(e.field).setAttribute("aria-invalid", "true");
	if (e.clean_tokens && e.corrupted_tokens) $("check-align").append(alignTable(e.clean_tokens, e.corrupted_tokens, e.first_diff));
}

// alignTable shows two tokenizations position by position, the first
// differing position marked.
function alignTable(a, b, first) {
	const n = Math.max(a.length, b.length);
	const head = el("tr", {}, el("th", { scope: "col", text: "position" }));
	for (let i = 0; i < n; i++) head.append(el("th", { scope: "col", text: String(i) }));
	const row = (name, toks) => {
		const tr = el("tr", {}, el("th", { scope: "row", text: `${name} (${toks.length})` }));
		for (let i = 0; i < n; i++) {
			const tok = toks[i];
			const td = el("td", { class: [i === first ? "first" : "", tok ? "" : "missing"].join(" ").trim() || "plain", text: tok ? visible(tok.text) : "—" });
			if (tok) td.title = `token ${tok.id}`;
			tr.append(td);
		}
		return tr;
	};
	const caption = el("caption", { class: "hint", text: first >= 0 ? `The tokenizations first differ at position ${first} (marked).` : "" });
	return el("table", {}, caption, el("thead", {}, head), el("tbody", {}, row("clean", a), row("corrupted", b)));
}

// ---------------------------------------------------------------- runs

function updateButtons() {
	$("run").disabled = !state.ready || !!state.run || starting;
	$("cancel").disabled = !state.run;
	const have = !!state.baseline;
	for (const id of ["export-png", "export-csv", "export-tables", "export-json"]) $(id).disabled = !have;
}

// starting is set from Run until the sweep is handed to the pool (the
// texts may have to be tokenized first): a second Run meanwhile does nothing.
let starting = null;

async function run(opts = {}) {
	if (!state.ready || state.run || starting) return;
	const me = {};
	starting = me;
	updateButtons();
	try {
		await startRun(opts);
	} finally {
		if (starting === me) starting = null;
		updateButtons();
	}
}

async function startRun(opts) {
	const r = request(), key = keyOf(r);
	let t = state.tokensKey === key ? state.tokens : null;
	if (!t) {
		try {
			t = await pool.tokenize(r);
		} catch (e) {
			setStatus("run-status", `Nothing was run: ${e.message}. Press Run again.`);
			return;
		}
		state.tokens = t;
		state.tokensKey = key;
		renderTokens(t);
	}
	if (t.error) {
		setStatus("run-status", `Nothing was run: ${t.error.message}`);
		if (FIELDS.includes(t.error.field)) $(t.error.field).focus();
		return;
	}
	const cfg = state.info.config, T = t.clean.length;
	const probs = !!(METRICS[state.metric].needsProbs || opts.probs);
	const jobs = [];
	let cells = 0;
	// opts.sites and opts.fresh are for benchmarks: other sites than the
	// view's, and everything computed again (the two texts too) even when known.
	for (const site of opts.sites || VIEWS[state.site].parts) {
		const [rows, cols] = shape(site, cfg, T);
		let sw = state.sweeps.get(sweepKey(key, site));
		if (!sw || (probs && !sw.probs) || opts.fresh) {
			sw = new Sweep(site, rows, cols, probs);
			state.sweeps.set(sweepKey(key, site), sw);
		}
		for (let i = 0; i < rows; i++) {
			if (sw.done[i]) continue;
			jobs.push({ site, r: i, cost: rowCost(site, i, cfg) });
			cells += cols;
		}
	}
	jobs.sort((a, b) => b.cost - a.cost); // the most expensive rows first
	if (state.baselineKey !== key) {
		state.baseline = null;
		renderTables();
	}
	const total = jobs.reduce((a, j) => a + j.cost, 0);
	const rn = { key, probs, t0: performance.now(), firstRow: 0, total, done: 0, rows: jobs.length, rowsDone: 0, cells, site: state.site, notes: [] };
	state.timings.runs = (state.timings.runs || 0) + 1;
	state.run = rn;
	starting = null; // state.run guards from here
	updateButtons();
	setStatus("run-status", jobs.length ? `Running ${VIEWS[state.site].short}…` : "Running the two texts…");
	$("run-progress").hidden = false;
	updateProgress();
	const timer = setInterval(updateProgress, 250);
	pool.start(r, jobs, { probs, delayMs: state.rowDelay, fresh: !!opts.fresh }, {
		onBaseline(b) {
			state.baseline = b;
			state.baselineKey = key;
			renderTables();
			renderHeat();
			updateButtons();
		},
		onRow(site, row, cells) {
			const sw = state.sweeps.get(sweepKey(key, site));
			if (!sw || state.run !== rn) return;
			sw.setRow(row, cells);
			rn.done += rowCost(site, row, cfg);
			rn.rowsDone++;
			if (!rn.firstRow) rn.firstRow = performance.now();
			scheduleHeat();
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
				const n = pool.status().ready;
				setStatus("run-status", (rn.rows ? `Swept ${VIEWS[rn.site].short} in ${seconds(ms)} with ${n} worker${n > 1 ? "s" : ""}.` : "Done: the tables are for these texts; the heatmap was computed before.") + (rn.notes.length ? ` Meanwhile: ${rn.notes.join(" ")}` : ""));
			} else if (status === "cancelled") {
				setStatus("run-status", `Cancelled after ${seconds(ms)}: ${rn.rowsDone} of ${rn.rows} rows done (Run again completes the rest).`);
			} else {
				setStatus("run-status", `The run failed: ${error}`);
			}
			$("run-progress").hidden = true;
			updateButtons();
			renderHeat();
			if (status === "done" && state.pendingRun) {
				state.pendingRun = false;
				run();
			}
		},
	});
}

function cancel() {
	state.pendingRun = false;
	pool.cancel();
}

function updateProgress() {
	const rn = state.run;
	if (!rn) return;
	const ms = performance.now() - rn.t0;
	$("run-bar").max = rn.total || 1;
	$("run-bar").value = rn.done;
	let left = "";
	if (rn.done > 0 && rn.done < rn.total) left = ` · about ${seconds((ms * (rn.total - rn.done)) / rn.done)} left`;
	$("run-text").textContent = `${rn.rowsDone} of ${rn.rows} rows · ${seconds(ms)} elapsed${left}`;
}

// ---------------------------------------------------------------- tables

function renderTables() {
	const b = state.baseline;
	document.querySelector(".tables").hidden = !b;
	for (const [id, rows, name] of [["clean-top", b && b.clean_top, "Clean"], ["corrupted-top", b && b.corrupted_top, "Corrupted"]]) {
		const table = $(id);
		const targets = b ? new Set([b.clean_target_id, b.corrupted_target_id]) : new Set();
		table.tBodies[0].replaceChildren(...(rows || []).map((t) =>
			el("tr", { class: targets.has(t.id) ? "target" : "" },
				el("td", { text: String(t.rank) }), el("td", { text: String(t.id) }),
				el("td", { class: "tok", text: visible(t.token) }), el("td", { text: t.p.toFixed(4) }))));
		const toks = b && (name === "Clean" ? b.clean_tokens : b.corrupted_tokens);
		const last = toks && toks.length ? visible(toks[toks.length - 1].text) : "";
		table.caption.textContent = b ? `${name} run: the 20 most probable tokens after “${last}”` : `${name} run: the 20 most probable next tokens`;
	}
}

// ---------------------------------------------------------------- heatmap

// heatModel builds what the canvas shows for the shown site and metric.
function heatModel() {
	const b = state.baseline;
	if (!b) return null;
	const key = state.baselineKey, view = VIEWS[state.site], cfg = b.config;
	const T = b.clean_tokens.length;
	const parts = view.parts.map((site) => {
		const [rows, cols] = shape(site, cfg, T);
		return { site, rows, cols, sweep: state.sweeps.get(sweepKey(key, site)) };
	});
	const cols = parts[0].cols;
	const rows = parts.reduce((a, p) => a + p.rows, 0);
	const base = { clean: b.clean_base, corrupted: b.corrupted_base };
	const haveProbs = parts.every((p) => !p.sweep || p.sweep.probs);
	const problem = metricProblem(state.metric, base, haveProbs);
	const values = new Float64Array(rows * cols).fill(NaN);
	const rowLabels = [], rowOf = [], breaks = [];
	let r0 = 0, computed = 0;
	for (const p of parts) {
		if (r0 > 0) breaks.push(r0);
		for (let r = 0; r < p.rows; r++) {
			rowLabels.push(rowLabel(p.site, r, cfg));
			rowOf.push({ site: p.site, r });
			if (!p.sweep || !p.sweep.done[r]) continue;
			computed++;
			if (problem) continue;
			for (let c = 0; c < cols; c++) values[(r0 + r) * cols + c] = metricValue(state.metric, p.sweep.cells, r * cols + c, base);
		}
		r0 += p.rows;
	}
	let colLabels, colAxis;
	if (view.cols === "heads") {
		colLabels = Array.from({ length: cols }, (_, h) => `H${h}`);
		colAxis = "head (patched at every position)";
	} else {
		colLabels = b.clean_tokens.map((t, i) => {
			const k = b.corrupted_tokens[i];
			return k.id === t.id ? `${i} ${visible(t.text)}` : `${i} ${visible(t.text)}/${visible(k.text)}`;
		});
		colAxis = "position: token (clean/corrupted where they differ)";
	}
	let mx = 0;
	for (const v of values) if (Number.isFinite(v)) mx = Math.max(mx, Math.abs(v));
	const req = JSON.parse(key);
	const targets = { clean: `“${visible(req[2])}”`, corrupted: `“${visible(req[3])}”` };
	const metric = METRICS[state.metric];
	return {
		site: state.site, metric: state.metric, problem, computed,
		title: `${view.short} · ${metric.label}`,
		subtitle: `${metric.formula(targets)} — corrupted run with one activation patched from the clean run`,
		rows, cols, values, rowLabels, colLabels, rowOf, breaks,
		rowAxis: state.site === "z_per_position" ? "layer, head" : "layer",
		colAxis,
		range: niceMax(mx),
	};
}

// scheduleHeat redraws the heatmap at the next frame (rows arrive faster
// than frames during a sweep).
let heatFrame = 0;
function scheduleHeat() {
	if (!heatFrame) heatFrame = requestAnimationFrame(() => {
		heatFrame = 0;
		renderHeat();
		updateProgress();
	});
}

function renderHeat() {
	const m = heatModel();
	const problemBox = $("heat-problem");
	if (!m) {
		$("heat-caption").textContent = "Run an analysis to see its heatmap.";
		problemBox.hidden = true;
		$("heatmap").hidden = true;
		$("howto-metric").textContent = METRICS[state.metric].reading;
		renderHeatTable(null);
		return;
	}
	$("heatmap").hidden = false;
	const stale = state.baselineKey !== keyOf(request());
	$("heat-caption").textContent = `Showing: site ${VIEWS[m.site].short}, metric ${METRICS[m.metric].label}${stale ? " — for the texts last run (the inputs have changed since: Run to update)" : ""}`;
	$("howto-metric").textContent = METRICS[m.metric].reading;
	problemBox.hidden = !m.problem && m.computed > 0;
	$("rerun-probs").hidden = m.problem !== "probs";
	if (m.problem === "probs") $("heat-problem-text").textContent = "The probability difference needs the softmax of every patched run, which this sweep did not compute.";
	else if (m.problem === "flat") $("heat-problem-text").textContent = "The normalized metric is undefined: the clean and corrupted runs give the same logit difference. Choose other targets or another metric.";
	else if (m.computed === 0) $("heat-problem-text").textContent = state.run ? "This site is computed after the current run." : "This site is not computed yet for these texts: press Run.";
	if (state.focus && (state.focus.r >= m.rows || state.focus.c >= m.cols)) state.focus = null;
	heat.focus = state.focus;
	heat.render(m);
	$("heatmap").setAttribute("aria-label", `Heatmap of ${VIEWS[m.site].short}, ${METRICS[m.metric].label}: ${m.rows} rows by ${m.cols} columns, ${m.computed} of ${m.rows} rows computed. Scale from ${format(-m.range)} (blue) to ${format(m.range)} (red).`);
	renderHeatTable(m);
}

// The screen-reader table of the heatmap's values can be large (z per
// position on a long text: some 150 000 cells), so it is not rebuilt with
// every frame of a sweep: only when what it shows changes (other texts,
// site or metric) or, with the same view, once no sweep runs (at the end of
// one, say) and its values differ from the table's.
let heatTable = { view: null, values: null };

function sameBits(a, b) {
	if (!a || !b || a.length !== b.length) return false;
	const x = new Uint32Array(a.buffer, a.byteOffset, a.length * 2), y = new Uint32Array(b.buffer, b.byteOffset, b.length * 2);
	for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
	return true;
}

function renderHeatTable(m) {
	const view = m ? JSON.stringify([state.baselineKey, m.site, m.metric]) : null;
	if (view === heatTable.view && (state.run || !m || sameBits(m.values, heatTable.values))) return;
	heatTable = { view, values: m && m.values };
	const t = $("heat-table");
	if (!m || m.computed === 0) {
		$("heat-table-caption").textContent = m ? `Heatmap values: ${VIEWS[m.site].short}, ${METRICS[m.metric].label}: not computed yet.` : "Heatmap values";
		t.tHead.replaceChildren();
		t.tBodies[0].replaceChildren();
		return;
	}
	$("heat-table-caption").textContent = `Heatmap values: ${VIEWS[m.site].short}, ${METRICS[m.metric].label}; rows are ${m.rowAxis}s, columns ${m.colAxis}.`;
	t.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col", text: m.rowAxis }), ...m.colLabels.map((l) => el("th", { scope: "col", text: l }))));
	const rows = [];
	for (let r = 0; r < m.rows; r++) {
		const tr = el("tr", {}, el("th", { scope: "row", text: m.rowLabels[r] }));
		for (let c = 0; c < m.cols; c++) tr.append(el("td", { text: precise(m.values[r * m.cols + c]) }));
		rows.push(tr);
	}
	t.tBodies[0].replaceChildren(...rows);
}

function describeCell(m, cell) {
	const { site, r } = m.rowOf[cell.r];
	const cfg = state.baseline.config;
	let row = `layer ${r}`;
	if (site === "embed") row = "embed (input of block 0)";
	else if (site === "z_per_position") row = `layer ${Math.floor(r / cfg.n_head)}, head ${r % cfg.n_head}`;
	const col = VIEWS[m.site].cols === "heads" ? `head ${cell.c} (every position)` : `position ${m.colLabels[cell.c]}`;
	const v = m.values[cell.r * m.cols + cell.c];
	return `${row} · ${col}\n${METRICS[m.metric].short}: ${precise(v)}`;
}

function showTooltip(cell, x, y) {
	const tip = $("tooltip"), m = heat.model;
	if (!cell || !m) {
		tip.hidden = true;
		return;
	}
	tip.textContent = describeCell(m, cell);
	tip.hidden = false;
	const box = $("heatmap").parentElement;
	tip.style.left = `${Math.min(x + 14, box.clientWidth - tip.offsetWidth - 4)}px`;
	tip.style.top = `${y + 14}px`;
}

const canvas = $("heatmap");
canvas.addEventListener("mousemove", (ev) => {
	const rect = canvas.getBoundingClientRect();
	const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
	const cell = heat.cellAt(x, y);
	if (JSON.stringify(cell) !== JSON.stringify(heat.hover)) {
		heat.hover = cell;
		heat.render();
	}
	showTooltip(cell, x + canvas.offsetLeft, y + canvas.offsetTop);
});
canvas.addEventListener("mouseleave", () => {
	heat.hover = null;
	heat.render();
	$("tooltip").hidden = true;
});
canvas.addEventListener("focus", () => {
	if (!heat.model) return;
	moveFocus(state.focus || { r: 0, c: 0 });
});
canvas.addEventListener("blur", () => {
	$("tooltip").hidden = true;
	heat.focus = null;
	heat.render();
});
canvas.addEventListener("keydown", (ev) => {
	const m = heat.model;
	if (!m) return;
	const f = state.focus || { r: 0, c: 0 };
	const moves = {
		ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0],
		Home: [0, -m.cols], End: [0, m.cols], PageUp: [-m.rows, 0], PageDown: [m.rows, 0],
	};
	const d = moves[ev.key];
	if (!d) return;
	ev.preventDefault();
	moveFocus({ r: Math.max(0, Math.min(m.rows - 1, f.r + d[0])), c: Math.max(0, Math.min(m.cols - 1, f.c + d[1])) });
});

function moveFocus(cell) {
	const m = heat.model;
	state.focus = cell;
	heat.focus = cell;
	heat.render();
	const text = describeCell(m, cell);
	$("heat-live").textContent = text.replace("\n", ": ");
	const L = heat.L;
	showTooltip(cell, L.left + cell.c * L.cellW + canvas.offsetLeft, L.top + (cell.r + 1) * L.cellH + canvas.offsetTop - 10);
}

window.addEventListener("resize", () => heat.render());
if (window.matchMedia) {
	// Redraw when the window moves to a screen of another pixel ratio.
	const watch = () => window.matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener("change", () => { heat.render(); watch(); }, { once: true });
	watch();
}

// ---------------------------------------------------------------- exports

function baseName() {
	return `patchlab-${slug(JSON.parse(state.baselineKey)[0])}`;
}

$("export-png").addEventListener("click", async () => {
	if (!heat.model) return;
	save(await heat.png(2), `${baseName()}-${state.site}-${state.metric}.png`);
});
$("export-csv").addEventListener("click", () => {
	const m = heatModel();
	if (!m) return;
	const rows = [[`${m.rowAxis} \\ ${m.colAxis}`, ...m.colLabels]];
	for (let r = 0; r < m.rows; r++) rows.push([m.rowLabels[r], ...Array.from(m.values.subarray(r * m.cols, (r + 1) * m.cols))]);
	save(new Blob([csv(rows)], { type: "text/csv" }), `${baseName()}-${state.site}-${state.metric}.csv`);
});
$("export-tables").addEventListener("click", () => {
	const b = state.baseline;
	if (!b) return;
	const rows = [["run", "position", "token_index", "token", "probability"]];
	for (const [run, t] of [["clean", b.clean_top], ["corrupted", b.corrupted_top]]) for (const e of t) rows.push([run, e.rank, e.id, e.token, e.p]);
	save(new Blob([csv(rows)], { type: "text/csv" }), `${baseName()}-top20.csv`);
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
$("copy-link").addEventListener("click", async () => {
	const whole = writeState({ ...request(), site: state.site, metric: state.metric });
	const left = whole ? "" : " (without the texts too long for a link)";
	try {
		await navigator.clipboard.writeText(location.href);
		setStatus("export-status", `The link is copied${left}.`);
	} catch {
		setStatus("export-status", `Copy the link from the address bar: it carries this analysis${left}.`);
	}
});

// exportJSON asks worker 0 for analysis.Record of every finished sweep of
// the texts last run (field names as the command-line tool writes them).
async function exportJSON() {
	const key = state.baselineKey;
	if (!key) throw new Error("nothing has run yet");
	const sweeps = [];
	for (const site of ["embed", "resid_post", "attn_out", "mlp_out", "z", "z_per_position"]) {
		const sw = state.sweeps.get(sweepKey(key, site));
		if (sw && sw.complete) sweeps.push({ site, cells: sw.cells });
	}
	const probsOK = sweeps.every((s) => state.sweeps.get(sweepKey(key, s.site)).probs);
	const metric = METRICS[state.metric].needsProbs && !probsOK ? "logit_diff" : state.metric;
	const req = Object.fromEntries(FIELDS.map((f, i) => [f, JSON.parse(key)[i]]));
	return pool.record(req, sweeps, metric);
}

// ---------------------------------------------------------------- controls

function fillSelects() {
	for (const [k, v] of Object.entries(VIEWS)) $("site").append(el("option", { value: k, text: v.label }));
	for (const [k, v] of Object.entries(METRICS)) $("metric").append(el("option", { value: k, text: v.label }));
}

async function loadPresets() {
	try {
		const res = await fetch("presets.json");
		const presets = await res.json();
		presets.forEach((p, i) => $("preset").append(el("option", { value: String(i), text: p.name })));
		$("preset").addEventListener("change", () => {
			const p = presets[Number($("preset").value)];
			if (!p) return;
			for (const f of FIELDS) $(f).value = p[f];
			$("preset-note").textContent = p.note || "";
			onInput();
		});
	} catch {
		// no presets: the fields still work
	}
}

let urlTimer = 0;
function onInput() {
	scheduleTokenize();
	clearTimeout(urlTimer);
	urlTimer = setTimeout(() => writeState({ ...request(), site: state.site, metric: state.metric }), 300);
	renderHeat();
}

for (const f of FIELDS) $(f).addEventListener("input", onInput);
$("run").addEventListener("click", () => run());
$("cancel").addEventListener("click", cancel);
$("rerun-probs").addEventListener("click", () => {
	const r = request();
	if (state.baselineKey && keyOf(r) !== state.baselineKey) {
		// Put the texts of the shown heatmap back before re-running them.
		JSON.parse(state.baselineKey).forEach((v, i) => ($(FIELDS[i]).value = v));
	}
	run({ probs: true });
});
$("site").addEventListener("change", () => {
	state.site = $("site").value;
	state.focus = null;
	writeState({ ...request(), site: state.site, metric: state.metric });
	renderHeat();
	// Compute the new site right away when the shown texts are the ones typed.
	const m = heatModel();
	if (m && m.computed < m.rows && state.baselineKey === keyOf(request())) {
		if (state.run) state.pendingRun = true;
		else run();
	}
});
$("metric").addEventListener("change", () => {
	state.metric = $("metric").value;
	writeState({ ...request(), site: state.site, metric: state.metric });
	renderHeat();
});

// ---------------------------------------------------------------- start

function init() {
	fillSelects();
	const s = readState(location, VIEWS, METRICS);
	const fromURL = FIELDS.some((f) => f in s);
	for (const f of FIELDS) $(f).value = f in s ? s[f] : DEFAULTS[f];
	state.site = s.site || DEFAULTS.site;
	state.metric = s.metric || DEFAULTS.metric;
	$("site").value = state.site;
	$("metric").value = state.metric;
	state.autoRun = fromURL; // a shared link reproduces its analysis
	state.rowDelay = Number(option("row_delay_ms")) || 0;
	renderTables();
	renderHeat();
	updateButtons();
	loadPresets();
	tokenizeNow();
	weightsTask(startWeights);
	if ("serviceWorker" in navigator && window.isSecureContext && option("sw") !== "0") {
		navigator.serviceWorker.register("sw.js").catch((e) => console.warn("patchlab: no service worker:", e));
	}
}

// A handle for tests, benchmarks and the curious (read-only views of the state).
window.patchlab = {
	status: () => ({
		ready: state.ready,
		running: !!state.run,
		workers: pool.status(),
		info: state.info,
		runStatus: $("run-status").textContent,
		modelStatus: $("model-status").textContent,
		notes: state.notes.slice(),
		loads: state.loads,
	}),
	heatmap: () => {
		const m = heatModel();
		return m && { ...m, values: Array.from(m.values, (v) => (Number.isFinite(v) ? v : null)), rowOf: undefined };
	},
	sweep: (site) => {
		const sw = state.baselineKey && state.sweeps.get(sweepKey(state.baselineKey, site));
		return sw && { site, rows: sw.rows, cols: sw.cols, probs: sw.probs, done: Array.from(sw.done), cells: Array.from(sw.cells, (v) => (Number.isFinite(v) ? v : null)) };
	},
	baseline: () => state.baseline,
	tokens: () => state.tokens,
	timings: () => ({ ...state.timings }),
	memory: () => pool.memory(),
	exportJSON,
	setRowDelay: (ms) => { state.rowDelay = ms; },
	run: (opts) => run(opts || {}),
	cancel,
	// crashWorker(i, kind) makes worker i fail, for the fault tests: "close",
	// "throw", "panic" or "oom" (see worker.js).
	crashWorker: (i, kind) => pool.debug(i, kind),
	// storeFault(kind) makes Cache Storage fail in every worker given a
	// conversion or a load from now on: "open" (caches.open rejects) or
	// "quota" (every put is refused); null: no more faults in new workers.
	storeFault: (kind) => {
		storeFault = kind || null;
		pool.storeFault = storeFault;
	},
};

init();
