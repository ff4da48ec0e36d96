// The experiment's design (issue #17): the direction of patching (denoise
// or noise), the corruption (the corrupted text, or Gaussian noise on the
// embeddings of chosen positions) and the mode (one pair, or a prompt set:
// pasted or loaded JSONL, or a generated IOI or factual set). Owns: these
// choices and their controls; the link carries them (link.js), as the
// CLI's flags name them (-direction, -corruption, -noise-scale,
// -noise-seeds, -noise-positions, -seed, -pairs).

import { $, el } from "./dom.js";

export const DEFAULTS = { direction: "denoise", corruption: "text", noise_scale: 3, noise_seeds: 10, noise_positions: "", seed: 1, mode: "pair", generator: "ioi", count: 20, source: "generate" };

const state = {
	...DEFAULTS,
	jsonl: "", // the pasted or loaded pairs
	file: "", // the name of the file loaded, if any
	directions: [], // the engine's (Info.directions)
	views: new Map(), // view → the same view told the direction (see viewFor)
};

const hooks = { changed: () => {} };

// The design in words the CLI understands, for the link and the export.
export const direction = () => state.direction;
export const corruption = () => state.corruption;
export const mode = () => state.mode;

// isSetRun says whether Run averages runs (a prompt set, or noise seeds)
// rather than sweeping one pair row by row.
export const isSetRun = () => state.mode === "set" || state.corruption === "noise";

// positions reads the noise positions: null (where the texts differ), an
// array, or a string saying what is wrong.
export function positions() {
	const s = String(state.noise_positions).trim();
	if (!s) return null;
	const out = [];
	for (const p of s.split(",")) {
		if (!/^\s*\d+\s*$/.test(p)) return `noise positions “${s}”: want positions (0, 1, …) separated by commas, or nothing for where the texts differ`;
		out.push(Number(p));
	}
	return out;
}

// noise is the noise corruption as the engine takes it (promptset.Noise), or null.
export function noise() {
	if (state.corruption !== "noise") return null;
	const p = positions();
	return { scale: Number(state.noise_scale), seed: Number(state.seed), seeds: Number(state.noise_seeds), ...(Array.isArray(p) ? { positions: p } : {}) };
}

// problem says what is wrong with the design's numbers, or null.
export function problem() {
	if (state.corruption === "noise") {
		const p = positions();
		if (typeof p === "string") return p;
		if (!(Number(state.noise_scale) > 0) || !Number.isFinite(Number(state.noise_scale))) return `noise scale “${state.noise_scale}”: want a number above 0, such as 3`;
		if (!(Number.isInteger(Number(state.noise_seeds)) && Number(state.noise_seeds) >= 1)) return `number of seeds “${state.noise_seeds}”: want a whole number, at least 1`;
	}
	if (isSetRun() && !/^\d+$/.test(String(state.seed))) return `seed “${state.seed}”: want a whole number (0, 1, …)`;
	if (state.mode === "set" && state.source === "generate" && !(Number.isInteger(Number(state.count)) && state.count >= 1 && state.count <= 1000)) return `number of pairs “${state.count}”: want 1 to 1000`;
	if (state.mode === "set" && state.source === "jsonl" && !state.jsonl.trim()) return "no pairs: paste JSONL (one {\"clean\", \"corrupted\", \"clean_target\", \"corrupted_target\"} object a line), load a file, or generate a set";
	return null;
}

// setSource is where the set's pairs come from (the engine's PairsSource)
// and what the export calls it: {source, spec|null, seed|null}.
export function setSource() {
	if (state.source === "generate") {
		const spec = `${state.generator}:${state.count}`;
		return { source: { spec, seed: Number(state.seed) }, name: spec, seed: Number(state.seed) };
	}
	return { source: { jsonl: state.jsonl }, name: state.file || "pasted", seed: null };
}

// linkFields are the design's fields of the link; readLink's counterpart.
export function linkFields() {
	const out = {};
	if (state.direction !== DEFAULTS.direction) out.direction = state.direction;
	if (state.corruption === "noise") {
		out.corruption = "noise";
		out.noise_scale = String(state.noise_scale);
		out.noise_seeds = String(state.noise_seeds);
		if (String(state.noise_positions).trim()) out.noise_positions = String(state.noise_positions).replace(/\s+/g, "");
	}
	if (state.mode === "set" && state.source === "generate") out.pairs = `${state.generator}:${state.count}`;
	if (isSetRun()) out.seed = String(state.seed);
	return out;
}

// fromLink takes the design fields readState found in the URL.
export function fromLink(s) {
	if (s.direction) state.direction = s.direction;
	if (s.corruption) state.corruption = s.corruption;
	if (s.noise_scale) state.noise_scale = s.noise_scale;
	if (s.noise_seeds) state.noise_seeds = s.noise_seeds;
	if (s.noise_positions) state.noise_positions = s.noise_positions;
	if (s.seed) state.seed = s.seed;
	if (s.pairs) {
		const [g, n] = s.pairs.split(":");
		state.mode = "set";
		state.source = "generate";
		state.generator = g;
		state.count = Number(n);
	}
	return !!s.pairs;
}

// viewFor is the engine's view told the direction: its short name and
// help say when it shows noising (the heatmap's caption and title read them).
export function viewFor(v) {
	if (!v) return v;
	const d = state.directions.find((x) => x.name === state.direction);
	const key = `${v.name}\u0000${state.direction}`;
	if (!state.views.has(key)) {
		state.views.set(key, state.direction === "noise"
			? { ...v, short: `${v.short}, noising`, help: `${d ? d.help : ""}\n\n${v.help}`, direction: "noise" }
			: { ...v, direction: "denoise" });
	}
	return state.views.get(key);
}

// snapshot is the design for tests.
export const snapshot = () => ({ ...state, directions: undefined, views: undefined, isSetRun: isSetRun(), noise: noise(), problem: problem() });

// ---------------------------------------------------------------- controls

// fill offers the engine's directions (with their one sentence each).
export function fill(info) {
	state.directions = info.directions || [];
	state.views.clear();
	$("direction").replaceChildren(...state.directions.map((d) => el("option", { value: d.name, text: d.label })));
	$("direction").value = state.direction;
	$("direction").disabled = false;
	showDirection();
}

function showDirection() {
	const d = state.directions.find((x) => x.name === state.direction);
	$("direction-help").textContent = d ? d.question : "";
}

// showControls shows the controls the choices need.
function showControls() {
	$("noise-params").hidden = state.corruption !== "noise";
	$("set-source").hidden = state.mode !== "set";
	$("set-generate").hidden = state.source !== "generate";
	$("set-jsonl").hidden = state.source !== "jsonl";
	$("seed-box").hidden = !isSetRun();
	const msg = problem();
	$("design-problem").textContent = msg || "";
	$("design-problem").hidden = !msg;
}

const INPUTS = ["noise_scale", "noise_seeds", "noise_positions", "seed", "count"];

// initDesign binds the controls; changed() runs after every change.
export function initDesign(h) {
	Object.assign(hooks, h);
	for (const k of INPUTS) {
		$(`design-${k}`).value = state[k];
		$(`design-${k}`).addEventListener("input", () => {
			state[k] = $(`design-${k}`).value;
			showControls();
			hooks.changed();
		});
	}
	$("direction").value = state.direction;
	$("direction").addEventListener("change", () => {
		state.direction = $("direction").value;
		showDirection();
		hooks.changed();
	});
	for (const [name, key] of [["corruption", "corruption"], ["design-mode", "mode"], ["set-from", "source"]]) {
		for (const r of document.querySelectorAll(`input[name=${name}]`)) {
			r.checked = r.value === state[key];
			r.addEventListener("change", () => {
				if (!r.checked) return;
				state[key] = r.value;
				showControls();
				hooks.changed();
			});
		}
	}
	$("design-generator").value = state.generator;
	$("design-generator").addEventListener("change", () => {
		state.generator = $("design-generator").value;
		hooks.changed();
	});
	$("set-text").addEventListener("input", () => {
		state.jsonl = $("set-text").value;
		state.file = "";
		showControls();
		hooks.changed();
	});
	$("set-file").addEventListener("change", async () => {
		const f = $("set-file").files[0];
		if (!f) return;
		state.jsonl = await f.text();
		state.file = f.name;
		$("set-text").value = state.jsonl;
		showControls();
		hooks.changed();
	});
	showControls();
}

// setJSONL puts pairs in the paste box (tests).
export function setJSONL(text) {
	state.jsonl = text;
	state.file = "";
	state.source = "jsonl";
	state.mode = "set";
	$("set-text").value = text;
	for (const r of document.querySelectorAll("input[name=set-from], input[name=design-mode]")) r.checked = r.value === "jsonl" || r.value === "set";
	showControls();
	hooks.changed();
}
