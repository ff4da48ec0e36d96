// The attention patterns view: for the run and layer chosen, every head's
// query × key pattern as a thumbnail, one head enlarged with its tokens on
// both axes, and the token chosen (hovered or focused) as coloured chips:
// what it attends to, and what attends to it. Owns: the layer and head
// shown, the cell focused, the token chosen, the panel's elements.

import { el } from "../dom.js";
import { color } from "../heatmap.js";
import { csv } from "../export.js";
import * as inspect from "../inspect-data.js";
import { FONT, panel, boxWidth, bindExports, enableExports, status, entry, tokensOf, label, quoted, sized, png, tip, fillTable, arrows, textBlob } from "./common.js";

const state = {
	p: null, // the panel
	layer: 0,
	head: 0,
	focus: null, // the cell focused in the enlarged pattern, {r: query, c: key}
	token: null, // the token whose chips show
	last: null, // the state shown
	L: null, // the enlarged pattern's layout
	drawn: null, // what is drawn: entry, layer, head
	hooks: { changed: () => {} },
};

const fmt = (p) => p.toFixed(p >= 0.995 ? 2 : 3);

export const attentionView = {
	name: "attention",
	label: "Attention patterns",

	mount(container, host) {
		Object.assign(state.hooks, host);
		const layer = el("select", { id: "attention-layer" }), head = el("select", { id: "attention-head" });
		state.p = panel(container, {
			name: "attention", title: "Attention patterns",
			controls: [
				el("div", { class: "field" }, el("label", { for: "attention-layer", text: "Layer" }), layer),
				el("div", { class: "field" }, el("label", { for: "attention-head", text: "Head" }), head),
			],
			onRun: () => state.hooks.changed(),
			onResize: () => redraw(),
			howto: [
				"Each square is one attention head of the layer chosen. Its row is a query position (the token doing the reading), its column a key position (the token read); the colour is the attention probability, from white (0) to dark red (1). Each row sums to 1; a token cannot read later tokens, so the upper right is empty.",
				"The large pattern is the head chosen, with the tokens on both axes. Point at (or focus) a token to see, as coloured chips, what it attends to and what attends to it. A head that moves a name to the last position shows a dark cell in the last row under that name.",
			],
			keys: "Keyboard: Tab to a head's thumbnail and press Enter to enlarge it; focus the large pattern and move with the arrow keys (each cell is read out); Tab to a token chip to see its attention.",
		});
		const p = state.p;
		p.thumbs = el("div", { id: "attention-thumbs", class: "thumbs", role: "group", "aria-label": "The heads of the layer" });
		p.canvas = el("canvas", { id: "attention-canvas", tabindex: "0", role: "application", "aria-roledescription": "attention pattern", "aria-describedby": "attention-keys" });
		p.tokens = el("div", { class: "chips att-tokens", role: "group", "aria-label": "Tokens: focus one to see its attention" });
		p.reads = el("div", { class: "chips" });
		p.readBy = el("div", { class: "chips" });
		p.readsH = el("p", { class: "att-h" });
		p.readByH = el("p", { class: "att-h" });
		p.main.prepend(p.thumbs, p.canvas, el("p", { class: "att-h", text: "Tokens" }), p.tokens, p.readsH, p.reads, p.readByH, p.readBy);
		layer.addEventListener("change", () => choose(+layer.value, state.head));
		head.addEventListener("change", () => choose(state.layer, +head.value));
		p.layer = layer;
		p.head = head;
		bindCanvas();
		bindExports(p, "attention", formats, () => state.last);
	},

	update(s, { soon = false } = {}) {
		if (soon && state.last && state.last.key === s.key && state.drawn) return; // rows of a sweep change nothing here
		state.last = s;
		render(s);
	},

	show(on) {
		state.p.root.hidden = !on;
	},

	// open shows head h of layer l (from the heatmap of z).
	open(l, h) {
		state.layer = l;
		state.head = h;
		state.focus = null;
	},

	get layer() { return state.layer; },
	get head() { return state.head; },

	exports: null, // set below
	model: (s) => {
		const e = entry(s);
		return e && e.views ? { run: e.run, layer: state.layer, head: state.head, layers: e.views.layers, heads: e.views.heads, positions: e.views.positions, attn: e.attn } : null;
	},
};

function choose(l, h) {
	state.layer = l;
	state.head = h;
	state.focus = null;
	if (state.last) render(state.last);
}

function render(s) {
	const p = state.p, e = entry(s);
	const why = status(s, e);
	p.runSelect.value = inspect.run();
	enableExports(p, !why);
	p.caption.textContent = why || `Showing: the ${e.run} run, layer ${state.layer}, head ${state.head}${s.stale ? " — for the texts last run (the inputs have changed since: Run to update)" : ""}`;
	const have = !why;
	for (const x of [p.thumbs, p.canvas, p.tokens, p.reads, p.readBy, p.readsH, p.readByH]) x.hidden = !have;
	if (!have) {
		fillTable(p, "Attention pattern", [], []);
		state.drawn = null;
		return;
	}
	const { layers: L, heads: H } = e.views;
	state.layer = Math.min(state.layer, L - 1);
	state.head = Math.min(state.head, H - 1);
	if (p.layer.options.length !== L) p.layer.replaceChildren(...Array.from({ length: L }, (_, l) => el("option", { value: l, text: String(l) })));
	if (p.head.options.length !== H) p.head.replaceChildren(...Array.from({ length: H }, (_, h) => el("option", { value: h, text: String(h) })));
	p.layer.value = state.layer;
	p.head.value = state.head;
	const d = state.drawn;
	if (d && d.e === e && d.layer === state.layer && d.head === state.head && d.width === boxWidth(p)) return;
	state.drawn = { e, layer: state.layer, head: state.head, width: boxWidth(p) };
	drawThumbs(e);
	drawPattern(e, tokensOf(s, e.run));
	renderChips(e, tokensOf(s, e.run));
	const T = e.views.positions, pat = inspect.attention(e, state.layer, state.head);
	const toks = tokensOf(s, e.run);
	fillTable(p, `Attention pattern of the ${e.run} run, layer ${state.layer}, head ${state.head}: rows are queries, columns keys.`,
		["query \\ key", ...toks.map(label)],
		toks.map((t, q) => [label(t, q), ...Array.from({ length: T }, (_, k) => (k > q ? "—" : fmt(pat[q * T + k])))]));
}

// ---------------------------------------------------------------- drawing

// drawCells draws pattern pat (T × T) in a square of side size at (x, y).
function drawCells(ctx, pat, T, x, y, size) {
	const c = size / T;
	for (let q = 0; q < T; q++) {
		for (let k = 0; k < T; k++) {
			ctx.fillStyle = k > q ? "#eef0f2" : color(pat[q * T + k]);
			ctx.fillRect(x + k * c, y + q * c, Math.ceil(c), Math.ceil(c));
		}
	}
}

function drawThumbs(e) {
	const p = state.p, { heads: H, positions: T } = e.views;
	const size = Math.max(48, Math.min(88, T * 6));
	if (p.thumbs.children.length !== H) {
		p.thumbs.replaceChildren(...Array.from({ length: H }, (_, h) => {
			const c = el("canvas", { tabindex: "0", role: "button", "aria-label": `Head ${h}` });
			c.addEventListener("click", () => choose(state.layer, h));
			c.addEventListener("keydown", (ev) => {
				if (ev.key === "Enter" || ev.key === " ") {
					ev.preventDefault();
					choose(state.layer, h);
				}
			});
			return el("figure", { class: "thumb" }, c, el("figcaption", { text: `H${h}` }));
		}));
	}
	for (let h = 0; h < H; h++) {
		const c = p.thumbs.children[h].firstChild;
		const ctx = sized(c, size, size);
		drawCells(ctx, inspect.attention(e, state.layer, h), T, 0, 0, size);
		c.setAttribute("aria-pressed", String(h === state.head));
		c.setAttribute("aria-label", `Layer ${state.layer}, head ${h}${h === state.head ? " (shown large)" : ""}`);
		c.parentElement.classList.toggle("chosen", h === state.head);
	}
}

// layout places the enlarged pattern of T tokens labelled labels in width px.
function layout(ctx, labels, width) {
	ctx.font = `12px ${FONT}`;
	const lw = Math.min(120, Math.max(...labels.map((s) => ctx.measureText(s).width)) + 8);
	const left = 18 + lw, top = 34, barW = 12, right = 60;
	const cell = Math.max(8, Math.min(40, Math.floor((width - left - right) / labels.length)));
	const grid = cell * labels.length;
	const bottom = lw * Math.SQRT1_2 + 30;
	return { left, top, cell, grid, lw, barW, width: left + grid + right, height: top + Math.max(grid, 120) + bottom };
}

function drawBig(ctx, L, pat, labels, title, focus) {
	const T = labels.length, { left, top, cell, grid } = L;
	ctx.fillStyle = "#fff";
	ctx.fillRect(0, 0, L.width, L.height);
	ctx.fillStyle = "#111";
	ctx.font = `600 14px ${FONT}`;
	ctx.textBaseline = "alphabetic";
	ctx.textAlign = "left";
	ctx.fillText(title, 6, 18);
	drawCells(ctx, pat, T, left, top, grid);
	ctx.strokeStyle = "#999";
	ctx.lineWidth = 1;
	ctx.strokeRect(left - 0.5, top - 0.5, grid + 1, grid + 1);
	if (cell >= 30) {
		ctx.font = `10px ${FONT}`;
		ctx.textAlign = "center";
		ctx.textBaseline = "middle";
		for (let q = 0; q < T; q++) {
			for (let k = 0; k <= q; k++) {
				const v = pat[q * T + k];
				ctx.fillStyle = v > 0.55 ? "#fff" : "#222";
				ctx.fillText(v.toFixed(2), left + k * cell + cell / 2, top + q * cell + cell / 2);
			}
		}
	}
	ctx.font = `12px ${FONT}`;
	ctx.fillStyle = "#222";
	ctx.textBaseline = "middle";
	ctx.textAlign = "right";
	const every = Math.max(1, Math.ceil(13 / cell));
	for (let q = 0; q < T; q += every) ctx.fillText(labels[q], left - 6, top + q * cell + cell / 2, L.lw);
	for (let k = 0; k < T; k += every) {
		ctx.save();
		ctx.translate(left + k * cell + cell / 2 + 3, top + grid + 6);
		ctx.rotate(-Math.PI / 4);
		ctx.fillText(labels[k], 0, 0, L.lw);
		ctx.restore();
	}
	ctx.save();
	ctx.translate(8, top + grid / 2);
	ctx.rotate(-Math.PI / 2);
	ctx.textAlign = "center";
	ctx.fillStyle = "#444";
	ctx.fillText("query (reads)", 0, 0);
	ctx.restore();
	ctx.textAlign = "center";
	ctx.fillStyle = "#444";
	ctx.fillText("key (read)", left + grid / 2, L.height - 8);
	// Colour bar, 0 to 1.
	const bx = left + grid + 14, bh = Math.max(grid, 120);
	for (let i = 0; i < bh; i++) {
		ctx.fillStyle = color(1 - (i + 0.5) / bh);
		ctx.fillRect(bx, top + i, L.barW, 1);
	}
	ctx.strokeStyle = "#999";
	ctx.strokeRect(bx - 0.5, top - 0.5, L.barW + 1, bh + 1);
	ctx.fillStyle = "#222";
	ctx.textAlign = "left";
	for (const v of [1, 0.5, 0]) ctx.fillText(String(v), bx + L.barW + 5, top + (1 - v) * bh);
	if (focus) {
		ctx.lineWidth = 3;
		ctx.strokeStyle = "#000";
		ctx.strokeRect(left + focus.c * cell + 1.5, top + focus.r * cell + 1.5, cell - 3, cell - 3);
		ctx.lineWidth = 1;
		ctx.strokeStyle = "#fff";
		ctx.strokeRect(left + focus.c * cell + 3.5, top + focus.r * cell + 3.5, cell - 7, cell - 7);
	}
}

function titleOf(e) {
	return `${e.run} run · layer ${state.layer} · head ${state.head}`;
}

function drawPattern(e, toks) {
	const p = state.p, labels = toks.map(label);
	const ctx = p.canvas.getContext("2d");
	state.L = layout(ctx, labels, Math.max(300, boxWidth(p)));
	const c2 = sized(p.canvas, state.L.width, state.L.height);
	drawBig(c2, state.L, inspect.attention(e, state.layer, state.head), labels, titleOf(e), state.focus);
	p.canvas.setAttribute("aria-label", `Attention pattern of the ${e.run} run, layer ${state.layer}, head ${state.head}: ${labels.length} queries by ${labels.length} keys, from 0 (white) to 1 (dark red).`);
}

// ---------------------------------------------------------------- tokens

// renderChips shows the tokens, and for the token chosen what it reads and what reads it.
function renderChips(e, toks) {
	const p = state.p, T = toks.length, pat = inspect.attention(e, state.layer, state.head);
	if (p.tokens.children.length !== T || p.tokens.dataset.of !== toks.map((t) => t.id).join()) {
		p.tokens.dataset.of = toks.map((t) => t.id).join();
		p.tokens.replaceChildren(...toks.map((t, i) => {
			const b = el("button", { type: "button", class: "chip tokchip", "aria-label": `Token ${label(t, i)}` }, el("span", { class: "t", text: label(t, i) }));
			const pick = () => chooseToken(i);
			b.addEventListener("mouseenter", pick);
			b.addEventListener("focus", pick);
			b.addEventListener("click", pick);
			return b;
		}));
	}
	const t = state.token ?? T - 1;
	for (const [i, b] of [...p.tokens.children].entries()) b.classList.toggle("chosen", i === t);
	const chip = (k, v) => {
		const c = el("span", { class: "chip heat", title: fmt(v), "aria-label": `${label(toks[k], k)}: ${fmt(v)}` },
			el("span", { class: "t", text: label(toks[k], k) }), el("span", { class: "id", text: fmt(v) }));
		c.style.background = color(v); // through the CSSOM: the page's policy forbids style attributes
		c.style.color = v > 0.55 ? "#fff" : "#111";
		return c;
	};
	p.readsH.textContent = `What ${quoted(toks[t].text)} (position ${t}) attends to:`;
	p.reads.replaceChildren(...Array.from({ length: t + 1 }, (_, k) => chip(k, pat[t * T + k])));
	p.readByH.textContent = `What attends to ${quoted(toks[t].text)}:`;
	p.readBy.replaceChildren(...Array.from({ length: T - t }, (_, i) => chip(t + i, pat[(t + i) * T + t])));
}

function chooseToken(i) {
	if (state.token === i) return;
	state.token = i;
	const s = state.last, e = s && entry(s);
	if (e && e.views) renderChips(e, tokensOf(s, e.run));
}

// ---------------------------------------------------------------- input

function describe(cell) {
	const s = state.last, e = entry(s), toks = tokensOf(s, e.run), T = toks.length;
	const v = inspect.attention(e, state.layer, state.head)[cell.r * T + cell.c];
	const what = cell.c > cell.r ? "cannot read a later token" : `reads it with probability ${fmt(v)}`;
	return `Query ${label(toks[cell.r], cell.r)} → key ${label(toks[cell.c], cell.c)}\n${what}`;
}

function cellAt(x, y) {
	const L = state.L, s = state.last;
	if (!L || !s) return null;
	const T = s.baseline.clean_tokens.length;
	const c = Math.floor((x - L.left) / L.cell), r = Math.floor((y - L.top) / L.cell);
	return c >= 0 && r >= 0 && c < T && r < T ? { r, c } : null;
}

function redraw() {
	const s = state.last, e = s && entry(s);
	if (!e || !e.views) return;
	state.drawn = null;
	render(s);
}

function bindCanvas() {
	const p = state.p, canvas = p.canvas;
	canvas.addEventListener("mousemove", (ev) => {
		const rect = canvas.getBoundingClientRect();
		const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
		const cell = cellAt(x, y);
		tip(p, cell && describe(cell), x + canvas.offsetLeft, y + canvas.offsetTop);
		if (cell) chooseToken(cell.r);
	});
	canvas.addEventListener("mouseleave", () => tip(p, null));
	canvas.addEventListener("blur", () => tip(p, null));
	const focusCell = (cell) => {
		state.focus = cell;
		redraw();
		chooseToken(cell.r);
		p.live.textContent = describe(cell).replace("\n", ": ");
		const L = state.L;
		tip(p, describe(cell), L.left + cell.c * L.cell + canvas.offsetLeft, L.top + (cell.r + 1) * L.cell + canvas.offsetTop - 10);
	};
	canvas.addEventListener("focus", () => {
		if (state.L) focusCell(state.focus || { r: 0, c: 0 });
	});
	canvas.addEventListener("keydown", (ev) => {
		const s = state.last;
		if (!s || !state.L) return;
		const T = s.baseline.clean_tokens.length;
		const next = arrows(ev.key, state.focus || { r: 0, c: 0 }, T, T);
		if (!next) return;
		ev.preventDefault();
		focusCell(next);
	});
	window.addEventListener("resize", () => {
		if (!p.root.hidden) redraw();
	});
}

// ---------------------------------------------------------------- exports

const formats = {
	png: async () => {
		const s = state.last, e = s && entry(s);
		if (!e || !e.views) return null;
		const labels = tokensOf(s, e.run).map(label);
		const ctx = document.createElement("canvas").getContext("2d");
		const L = layout(ctx, labels, Math.max(640, state.L ? state.L.width : 640));
		return { blob: await png(L.width, L.height, (c) => drawBig(c, L, inspect.attention(e, state.layer, state.head), labels, titleOf(e), null)), ext: "png" };
	},
	csv: async () => {
		const s = state.last, e = s && entry(s);
		if (!e || !e.views) return null;
		const toks = tokensOf(s, e.run), { layers: L, heads: H, positions: T } = e.views;
		const rows = [["layer", "head", "query", "query token", "key", "key token", "probability"]];
		for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
			const pat = inspect.attention(e, l, h);
			for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) rows.push([l, h, q, toks[q].text, k, toks[k].text, pat[q * T + k]]);
		}
		return { blob: textBlob(csv(rows), "text/csv"), ext: "csv" };
	},
	json: async () => {
		const s = state.last, e = s && entry(s);
		if (!e || !e.views) return null;
		return { blob: textBlob(JSON.stringify({ run: e.run, tokens: tokensOf(s, e.run), [`attn_pattern_${e.run}`]: nested(e) }), "application/json"), ext: "json" };
	},
};
attentionView.exports = formats;

// nested is the run's patterns as [L][H][T][T] arrays (views-golden.json's shape).
export function nested(e) {
	const { layers: L, heads: H, positions: T } = e.views;
	return Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) => {
		const pat = inspect.attention(e, l, h);
		return Array.from({ length: T }, (_, q) => Array.from(pat.subarray(q * T, (q + 1) * T)));
	}));
}
