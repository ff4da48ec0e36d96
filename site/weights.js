// Weights and model status: finding, downloading, converting and loading
// the weights, the worker pool that holds them, and the model status line.
// Owns: the pool (replaced when another model is opened), the loaded
// model's description (the engine's Info, with its site table), whether a
// load or conversion is in progress, what the pool had to say, and the
// load timings.

import { Pool, workerCount } from "./pool.js";
import { $, mb, setStatus } from "./dom.js";
import { option } from "./urlstate.js";
import { checkText, modelName } from "./modelcheck.js";

const state = {
	pool: null,
	storeFault: null, // for tests: Cache Storage fails in the workers ("open", "quota"; see worker.js)
	info: null, // the loaded model (null: none)
	ready: false, // a model is loaded and a worker holds it
	loads: 0, // models loaded
	busy: false, // a load or conversion is in progress
	notes: [], // what the pool had to say (a corrupt cache entry, a worker lost)
	timings: {}, // loadSeconds, pageToReadySeconds, allWorkersReadySeconds, marks (ms after the page opened: modules (the page's scripts ran), manifest, loadAsked; and timeOrigin)
};

// Set by initWeights: what the rest of the page does when the model changes.
const hooks = {
	onLoaded: () => {}, // a model is loaded (info() is set)
	onDropping: () => {}, // the model is about to be let go of (its pool still runs)
	onDropped: () => {}, // the model is let go of, before another is loaded
	onLost: () => {}, // no worker is left
	onWorkers: () => {}, // the workers changed
	onNote: () => {}, // (text, {lost}): a note of the pool, said on the run status line
};

export const pool = () => state.pool;
export const info = () => state.info;
export const ready = () => state.ready;
export const loads = () => state.loads;
export const notes = () => state.notes.slice();
export const timings = () => ({ ...state.timings });

export function setStoreFault(kind) {
	state.storeFault = kind || null;
	state.pool.storeFault = state.storeFault;
}

export function initWeights(h) {
	state.timings.marks = { timeOrigin: performance.timeOrigin, modules: performance.now() };
	Object.assign(hooks, h);
	state.pool = newPool();
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
	weightsTask(startWeights);
}

function newPool() {
	const p = new Pool({
		onProgress: showProgress,
		onNote: (text, how = {}) => {
			state.notes.push(text);
			hooks.onNote(text, how);
			setStatus("run-status", text);
		},
		onWorkers: (st) => {
			if (st.ready === st.total && !state.timings.allWorkersReadySeconds) state.timings.allWorkersReadySeconds = performance.now() / 1000;
			modelStatus();
			hooks.onWorkers();
		},
		onFatal: (text) => {
			// No worker is left: nothing can run until a model is opened again.
			state.ready = false;
			setStatus("model-status", text);
			$("model-more").hidden = true;
			$("load-progress").hidden = true;
			showWeights(true);
			hooks.onLost();
		},
	});
	p.storeFault = state.storeFault;
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

const capital = (s) => s[0].toUpperCase() + s.slice(1);

// modelStatus says what a student needs (the model, ready, how many
// workers); the format, code width and calibration are one click away.
function modelStatus() {
	if (!state.info) return;
	const c = state.info.config, st = state.pool.status();
	const mem = st.memory.filter(Boolean).map((m) => m.wasm);
	const per = mem.length ? ` · ${Math.round(Math.max(...mem))} MB per worker` : "";
	// The engine's name for it (gpt2.Config.Name): never "GPT-2 small" unless it is.
	const name = modelName(state.info);
	const workers = st.ready === st.total ? `${st.total} worker${st.total > 1 ? "s" : ""}` : `${st.ready} of ${st.total} workers`;
	setStatus("model-status", `${capital(name)} · ready · ${workers}`);
	$("model-detail").textContent = `${c.n_layer} layers × ${c.n_head} heads, width ${c.n_embd} · ${state.info.quantized ? `web format, ${state.info.bits}-bit codes${calibrated(state.info.calibration)}` : "float32, as in the file"}${per} · ${checkText(state.info)}${st.why ? ` · ${st.why}` : ""}`;
	$("model-more").hidden = false;
	for (const e of document.querySelectorAll(".model-name")) e.textContent = name;
}

// One load or conversion at a time: the weight controls are disabled while
// one is in progress, and a request that comes anyway (a file picked or a
// click already on its way) does nothing.
function setBusy(busy) {
	state.busy = busy;
	for (const e of document.querySelectorAll("#weights input, #weights button")) e.disabled = busy;
	$("weights").setAttribute("aria-busy", String(busy));
}

async function weightsTask(fn) {
	if (state.busy) return;
	setBusy(true);
	try {
		await fn();
	} finally {
		setBusy(false);
	}
}

function showWeights(show) {
	$("weights").hidden = !show;
	$("weights-show").setAttribute("aria-expanded", String(show));
}

async function startWeights() {
	let source = null, why = "";
	try {
		const res = await fetch("weights/manifest.json", { cache: "no-cache" });
		// A host that answers every path with its home page has no weights either.
		if (res.ok && /^text\/html\b/i.test(res.headers.get("content-type") || "")) why = "weights/manifest.json beside this page is an HTML page, not a manifest: the site has no converted weights. ";
		else if (res.ok) source = { kind: "web", manifest: await res.text(), base: res.url, name: "weights/manifest.json" };
		state.timings.marks.manifest = performance.now();
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

// downloadFree says whether the workers can load source without a
// download: then they load it all at once, else the first downloads it
// into the cache and the others read it there.
async function downloadFree(source) {
	if (source.kind !== "web" || source.shards) return true;
	try {
		const m = JSON.parse(source.manifest);
		return m.shards.length > 0 && (await PatchlabStore.cachedShards(m)) === m.shards.length;
	} catch {
		return false; // the first worker says what is wrong with the manifest
	}
}

async function loadModel(source) {
	const n = workerCount(modelBytes(source), Number(option("workers")));
	setStatus("model-status", `Loading the model in ${n} worker${n > 1 ? "s" : ""}…`);
	const t = performance.now();
	let first;
	try {
		const together = n > 1 && (await downloadFree(source));
		state.timings.marks.loadAsked = performance.now();
		first = await state.pool.load(source, n, together);
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
	hooks.onLoaded(state.info);
}

// replacePool lets go of the model and its workers, for another model.
function replacePool() {
	hooks.onDropping();
	state.pool.terminate();
	state.pool = newPool();
	state.ready = false;
	state.info = null;
	hooks.onDropped();
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
			await state.pool.check(blob, config);
			source = { kind: "blob", blob, config };
		} else {
			setStatus("model-status", `Converting ${name} in a worker…`);
			const c = await state.pool.convert(blob, config);
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
	replacePool();
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
