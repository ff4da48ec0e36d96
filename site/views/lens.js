// The logit lens view: the metric read from the residual stream itself
// after every layer (row 0: the embedding), at every position, as a
// heatmap in the heatmap's colours, with the token each cell would predict
// printed in it as the rows of top-1 tokens arrive from the workers. Owns:
// the cell focused and hovered, what is drawn, the panel's elements.

import { visible } from "../dom.js";
import { layout, draw, cellAt } from "../heatmap.js";
import { niceMax, precise } from "../heatmap-data.js";
import { csv } from "../export.js";
import * as inspect from "../inspect-data.js";
import { el } from "../dom.js";
import { panel, boxWidth, bindExports, enableExports, status, entry, tokensOf, label, quoted, sized, png, tip, fillTable, arrows, textBlob } from "./common.js";

// MIN_CELL is the narrowest cell (CSS px) that shows its token: a narrower
// screen scrolls the lens sideways.
const MIN_CELL = 46;

const state = {
	p: null,
	m: null, // the model drawn (heatmap.js's shape, with cellText)
	L: null,
	focus: null,
	hover: null,
	last: null,
	table: null, // what the screen-reader table shows
	hooks: { changed: () => {} },
};

export const lensView = {
	name: "lens",
	label: "Logit lens",

	mount(container, host) {
		Object.assign(state.hooks, host);
		state.p = panel(container, {
			name: "lens", title: "Logit lens",
			onRun: () => state.hooks.changed(),
			onResize: () => drawCanvas(),
			howto: [
				"Each cell reads the residual stream — what the model has written so far — at one position after one layer, as if the model stopped there: the final LayerNorm and the unembedding are applied to it directly. Its colour is the metric, logit(corrupted target) − logit(clean target), on the heatmap's scale (blue negative, red positive, white 0); the word in it is the token that layer would predict next.",
				"Row “embed” is the input of the first block; each row below adds one block. The bottom right cell is the run's own prediction. Reading a column downwards shows when the model makes up its mind.",
			],
			keys: "Keyboard: focus the lens and move with the arrow keys (Home, End, Page Up, Page Down); each cell is read out with its value and token.",
		});
		const p = state.p;
		p.canvas = el("canvas", { id: "lens-canvas", tabindex: "0", role: "application", "aria-roledescription": "logit lens heatmap", "aria-describedby": "lens-keys" });
		p.main.prepend(p.canvas);
		bindCanvas();
		bindExports(p, "lens", formats, () => state.last);
	},

	update(s) {
		state.last = s;
		render(s);
	},

	show(on) {
		state.p.root.hidden = !on;
	},

	exports: null,
	model: (s) => {
		const e = entry(s);
		return e && e.views ? { run: e.run, lens: e.views.logit_lens, top1: e.top1 } : null;
	},
};

function build(s, e) {
	const toks = tokensOf(s, e.run), lens = e.views.logit_lens;
	const rows = lens.length, cols = toks.length;
	const values = new Float64Array(rows * cols);
	let mx = 0;
	for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
		values[r * cols + c] = lens[r][c];
		mx = Math.max(mx, Math.abs(lens[r][c]));
	}
	const t = s.request;
	const done = e.top1 ? e.top1.filter(Boolean).length : 0;
	return {
		title: `Logit lens · ${e.run} run`,
		subtitle: `logit(${quoted(t.corrupted_target)}) − logit(${quoted(t.clean_target)}) read after each layer; the top-1 token in each cell${done < rows ? ` (${done} of ${rows} rows of tokens so far)` : ""}`,
		rows, cols, values,
		rowLabels: ["embed", ...Array.from({ length: rows - 1 }, (_, l) => String(l))],
		colLabels: toks.map(label),
		breaks: [1],
		rowAxis: "layer (output of block)",
		colAxis: "position: token",
		range: niceMax(mx),
		cellText: (r, c) => (e.top1 && e.top1[r] ? visible(e.top1[r].tokens[c]) : null),
		top1Rows: done,
	};
}

function render(s) {
	const p = state.p, e = entry(s);
	const why = status(s, e);
	p.runSelect.value = inspect.run();
	enableExports(p, !why);
	p.canvas.hidden = !!why;
	if (why) {
		p.caption.textContent = why;
		state.m = null;
		fillTable(p, "Logit lens", [], []);
		state.table = null;
		return;
	}
	inspect.fillTop1(e);
	const m = build(s, e);
	state.m = m;
	const rows = m.rows;
	p.caption.textContent = `Showing: the ${e.run} run; top-1 tokens ${m.top1Rows < rows ? `${m.top1Rows} of ${rows} rows (filling in)` : "complete"}${e.top1Error ? ` — stopped: ${e.top1Error.message}` : ""}${s.stale ? " — for the texts last run (the inputs have changed since: Run to update)" : ""}`;
	if (state.focus && (state.focus.r >= m.rows || state.focus.c >= m.cols)) state.focus = null;
	drawCanvas();
	p.canvas.setAttribute("aria-label", `Logit lens of the ${e.run} run: ${m.rows} rows (embed, then each layer) by ${m.cols} positions. Scale from ${precise(-m.range)} (blue) to ${precise(m.range)} (red).`);
	const of = `${e.key}\u0000${e.run}\u0000${m.top1Rows}`;
	if (of !== state.table) {
		state.table = of;
		fillTable(p, `Logit lens of the ${e.run} run: the metric, and the top-1 token, after each layer (rows) at each position (columns).`,
			["layer \\ position", ...m.colLabels],
			m.rowLabels.map((rl, r) => [rl, ...m.colLabels.map((_, c) => `${precise(m.values[r * m.cols + c])}${e.top1 && e.top1[r] ? ` ${quoted(e.top1[r].tokens[c])}` : ""}`)]));
	}
}

function lay(ctx, m, width) {
	let L = layout(ctx, m, width);
	if (L.cellW < MIN_CELL) L = layout(ctx, m, width + (MIN_CELL - L.cellW) * m.cols + 1);
	return L;
}

function drawCanvas() {
	const p = state.p, m = state.m;
	if (!m) return;
	const ctx0 = p.canvas.getContext("2d");
	state.L = lay(ctx0, m, Math.max(320, boxWidth(p)));
	const ctx = sized(p.canvas, state.L.width, state.L.height);
	draw(ctx, m, state.L, { hover: state.hover, focus: state.focus });
}

function describe(cell) {
	const m = state.m, s = state.last, e = entry(s);
	const row = cell.r === 0 ? "embedding" : `after layer ${cell.r - 1}`;
	const tok = e.top1 && e.top1[cell.r] ? `top-1 ${quoted(e.top1[cell.r].tokens[cell.c])} (id ${e.top1[cell.r].ids[cell.c]})` : "top-1 token: computing…";
	return `${row} · position ${m.colLabels[cell.c]}\nlogit diff: ${precise(m.values[cell.r * m.cols + cell.c])} · ${tok}`;
}

function bindCanvas() {
	const p = state.p, canvas = p.canvas;
	canvas.addEventListener("mousemove", (ev) => {
		if (!state.m) return;
		const rect = canvas.getBoundingClientRect();
		const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
		const cell = cellAt(state.L, state.m, x, y);
		if (JSON.stringify(cell) !== JSON.stringify(state.hover)) {
			state.hover = cell;
			drawCanvas();
		}
		tip(p, cell && describe(cell), x + canvas.offsetLeft, y + canvas.offsetTop);
	});
	canvas.addEventListener("mouseleave", () => {
		state.hover = null;
		drawCanvas();
		tip(p, null);
	});
	const focusCell = (cell) => {
		state.focus = cell;
		drawCanvas();
		p.live.textContent = describe(cell).replace("\n", ": ");
		const L = state.L;
		tip(p, describe(cell), L.left + cell.c * L.cellW + canvas.offsetLeft, L.top + (cell.r + 1) * L.cellH + canvas.offsetTop - 10);
	};
	canvas.addEventListener("focus", () => {
		if (state.m) focusCell(state.focus || { r: 0, c: 0 });
	});
	canvas.addEventListener("blur", () => {
		tip(p, null);
		const f = state.focus;
		state.focus = null;
		drawCanvas();
		state.focus = f;
	});
	canvas.addEventListener("keydown", (ev) => {
		const m = state.m;
		if (!m) return;
		const next = arrows(ev.key, state.focus || { r: 0, c: 0 }, m.rows, m.cols);
		if (!next) return;
		ev.preventDefault();
		focusCell(next);
	});
	window.addEventListener("resize", () => {
		if (!p.root.hidden) drawCanvas();
	});
}

const formats = {
	png: async () => {
		const m = state.m;
		if (!m) return null;
		const L = lay(document.createElement("canvas").getContext("2d"), m, Math.max(640, state.L ? state.L.width : 640));
		return { blob: await png(L.width, L.height, (ctx) => draw(ctx, m, L, { export: true })), ext: "png" };
	},
	csv: async () => {
		const s = state.last, e = s && entry(s), m = state.m;
		if (!m) return null;
		const toks = tokensOf(s, e.run);
		const rows = [["layer", "position", "token", "logit_diff", "top1_id", "top1_token"]];
		for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) {
			const t = e.top1 && e.top1[r];
			rows.push([m.rowLabels[r], c, toks[c].text, m.values[r * m.cols + c], t ? t.ids[c] : "", t ? t.tokens[c] : ""]);
		}
		return { blob: textBlob(csv(rows), "text/csv"), ext: "csv" };
	},
	json: async () => {
		const s = state.last, e = s && entry(s);
		if (!e || !e.views) return null;
		const top = e.top1 && e.top1.every(Boolean) ? e.top1.map((r) => r.ids) : null;
		return { blob: textBlob(JSON.stringify({ run: e.run, [`logit_lens_${e.run}`]: e.views.logit_lens, [`logit_lens_top1_${e.run}`]: top }), "application/json"), ext: "json" };
	},
};
lensView.exports = formats;
