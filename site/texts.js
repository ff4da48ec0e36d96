// Texts and tokens: the four fields, their live tokenization (chips,
// counts, the check of the request) and the examples. Owns: the last
// tokenization and the key of the texts it is of, and the tokenizer's
// scheduling (one tokenization at a time, after a pause in typing).

import { $, el, visible } from "./dom.js";

export const FIELDS = ["clean", "corrupted", "clean_target", "corrupted_target"];
export const DEFAULT_TEXTS = {
	clean: "Michelle Jones was a top-notch student. Michelle",
	corrupted: "Michelle Smith was a top-notch student. Michelle",
	clean_target: " Jones",
	corrupted_target: " Smith",
};

// request is what the fields hold: {clean, corrupted, clean_target, corrupted_target}.
export const request = () => Object.fromEntries(FIELDS.map((f) => [f, $(f).value]));
// keyOf names a request (equal requests, equal keys).
export const keyOf = (r) => JSON.stringify(FIELDS.map((f) => r[f]));

const state = {
	tokens: null, // the last tokenization (the engine's Tokens), of key
	key: null,
	timer: 0,
	busy: false, // a tokenization is in a worker
	again: false, // the texts changed meanwhile: tokenize once more after it
	run: { key: null, warnings: [] }, // the warnings of the texts last run (the model's top tokens)
	warned: "", // the warnings shown
	firstShown: null, // ms after the page opened when the first tokens showed (timings)
};

// Set by initTexts.
const hooks = {
	tokenize: async () => { throw new Error("no engine yet"); }, // request → Promise<Tokens>
	contextSize: () => 1024,
	onTokens: () => {},
	onInput: () => {},
};

// firstShown is when the first tokens showed, in ms after the page opened (null: not yet).
export const firstShown = () => state.firstShown;

export function initTexts(h, initial) {
	Object.assign(hooks, h);
	for (const f of FIELDS) {
		$(f).value = initial[f];
		$(f).addEventListener("input", hooks.onInput);
	}
	loadPresets();
}

// setTexts puts a request in the fields (no input event).
export function setTexts(r) {
	for (const f of FIELDS) $(f).value = r[f];
}

export function focusField(field) {
	if (FIELDS.includes(field)) $(field).focus();
}

// tokens is the last tokenization, or null.
export const tokens = () => state.tokens;
// upToDate says whether the last tokenization is of the texts typed.
export const upToDate = () => state.key === keyOf(request());

// tokensOf is the last tokenization if it is of request r, else null.
export const tokensOf = (r) => (state.key === keyOf(r) ? state.tokens : null);

// tokenize tokenizes r now (the result becomes the last tokenization). It
// rejects when no worker can tokenize.
export async function tokenize(r) {
	const t = await hooks.tokenize(r);
	show(t, keyOf(r));
	return t;
}

// Typing tokenizes after a pause (150 ms), with one tokenization at a time
// in the worker: input that comes meanwhile is tokenized once, after.
export function scheduleTokenize() {
	clearTimeout(state.timer);
	state.timer = setTimeout(tokenizeNow, 150);
}

export async function tokenizeNow() {
	clearTimeout(state.timer);
	if (state.busy) {
		state.again = true;
		return;
	}
	state.busy = true;
	try {
		do {
			state.again = false;
			const r = request();
			let t;
			try {
				t = await hooks.tokenize(r);
			} catch {
				return; // the pool or the worker was replaced: asked again once it is there
			}
			show(t, keyOf(r));
		} while (state.again);
	} finally {
		state.busy = false;
	}
}

function show(t, key) {
	state.tokens = t;
	state.key = key;
	renderTokens(t);
	state.firstShown ??= performance.now();
	hooks.onTokens(t);
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
	if (n < 0) return `more than ${hooks.contextSize()} tokens`;
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
	renderWarnings();
	const e = t.error;
	$("check").hidden = !e;
	$("check-align").replaceChildren();
	if (!e) return;
	$("check-msg").textContent = visible(e.message, true);
	if (FIELDS.includes(e.field)) $(e.field).setAttribute("aria-invalid", "true");
	if (e.clean_tokens && e.corrupted_tokens) $("check-align").append(alignTable(e.clean_tokens, e.corrupted_tokens, e.first_diff));
}

// showRunWarnings keeps the warnings a run gave for the texts of key
// (a target the model hardly expects), shown while those texts are typed.
export function showRunWarnings(key, warnings) {
	state.run = { key, warnings: warnings || [] };
	renderWarnings();
}

// renderWarnings shows each warning under its field: the tokenizer's (a
// target without the leading space its word has, with a button that
// fixes it) and the last run's, if its texts are the ones typed.
function renderWarnings() {
	const typed = keyOf(request());
	const all = [...((state.tokens && state.key === typed && state.tokens.warnings) || []), ...(state.run.key === typed ? state.run.warnings : [])];
	const sig = JSON.stringify(all);
	if (sig === state.warned) return; // unchanged (a render per frame during a sweep)
	state.warned = sig;
	for (const f of ["clean_target", "corrupted_target"]) {
		const box = $(`${f}-warn`), mine = all.filter((w) => w.field === f);
		box.replaceChildren(...mine.map((w) => {
			const text = capital(visible(w.message, true));
			const p = el("p", { text: /[.?!]$/.test(text) ? text : `${text}.` });
			if (w.fix) {
				const b = el("button", { type: "button", class: "secondary fix", text: `Use “${visible(w.fix)}”` });
				b.addEventListener("click", () => {
					$(f).value = w.fix;
					hooks.onInput();
					$(f).focus();
				});
				p.append(" ", b);
			}
			return p;
		}));
		box.hidden = !mine.length;
		const described = new Set(($(f).getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
		if (mine.length) described.add(box.id);
		else described.delete(box.id);
		if (described.size) $(f).setAttribute("aria-describedby", [...described].join(" "));
		else $(f).removeAttribute("aria-describedby");
	}
}

const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);

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

async function loadPresets() {
	try {
		const res = await fetch("presets.json");
		const presets = await res.json();
		presets.forEach((p, i) => $("preset").append(el("option", { value: String(i), text: p.name })));
		$("preset").addEventListener("change", () => {
			const p = presets[Number($("preset").value)];
			if (!p) return;
			setTexts(p);
			$("preset-note").textContent = p.note || "";
			hooks.onInput();
		});
	} catch {
		// no presets: the fields still work
	}
}
