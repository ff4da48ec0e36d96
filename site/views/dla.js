// The direct logit attribution view: how much each component that writes
// the final residual stream adds to the metric at the last position, as a
// waterfall of bars that visibly ends at the run's metric, and each head's
// share as a layers × heads grid in the heatmap's colours. Owns: the bar
// and head focused, what is drawn, the panel's elements.

import { el } from "../dom.js";
import { color, Heatmap, layout as heatLayout, draw as heatDraw } from "../heatmap.js";
import { niceMax, precise, format } from "../heatmap-data.js";
import { csv } from "../export.js";
import * as inspect from "../inspect-data.js";
import { FONT, panel, boxWidth, bindExports, enableExports, status, entry, quoted, sized, png, tip, fillTable, arrows, textBlob } from "./common.js";

const state = {
	p: null,
	bars: null, // [{name, value, from, to, total?}]
	B: null, // the bars' layout
	heads: null, // the head grid's model (heatmap.js's shape)
	grid: null, // its Heatmap
	focusBar: null,
	focusHead: null,
	last: null,
	hooks: { changed: () => {} },
};

export const dlaView = {
	name: "dla",
	label: "Direct logit attribution",

	mount(container, host) {
		Object.assign(state.hooks, host);
		state.p = panel(container, {
			name: "dla", title: "Direct logit attribution",
			onRun: () => state.hooks.changed(),
			onResize: () => drawBars(),
			howto: [
				"The residual stream at the last position is a sum: the embedding, plus what every attention layer and every MLP wrote into it. Each bar is what one of them adds, directly, to the metric logit(corrupted target) − logit(clean target) through the final LayerNorm (its scale taken from the whole stream) and the unembedding. The bars follow each other: each starts where the one before ended, and the last, the total, is the run's metric.",
				"Red adds to the metric (towards the corrupted target), blue takes away. The grid splits each attention layer's bar into its heads: a strongly coloured cell is a head that writes the answer itself. It is direct only: a head that helps later layers shows nothing here.",
			],
			keys: "Keyboard: focus the bars and move with the up and down arrows, or the head grid with the arrow keys; each value is read out.",
		});
		const p = state.p;
		p.bars = el("canvas", { id: "dla-bars", tabindex: "0", role: "application", "aria-roledescription": "bar chart", "aria-describedby": "dla-keys" });
		p.gridBox = el("div", { class: "dla-grid" });
		p.grid = el("canvas", { id: "dla-grid", tabindex: "0", role: "application", "aria-roledescription": "heatmap", "aria-describedby": "dla-keys" });
		p.gridBox.append(p.grid);
		p.sum = el("p", { class: "dla-sum" });
		p.main.prepend(p.bars, p.sum, p.gridBox);
		state.grid = new Heatmap(p.grid);
		bindInput();
		bindExports(p, "dla", formats, () => state.last);
	},

	update(s) {
		state.last = s;
		render(s);
	},

	show(on) {
		state.p.root.hidden = !on;
		if (on && state.heads) state.grid.render(state.heads);
	},

	exports: null,
	model: (s) => {
		const e = entry(s);
		return e && e.views ? { run: e.run, dla: e.views.dla, bars: state.bars } : null;
	},
};

// barsOf lists the components in the order they write the stream, each
// from the running sum before it to the one after, and the total.
function barsOf(d) {
	const parts = [["embed", d.embed, "token + position embedding"]];
	d.attn_out.forEach((v, l) => {
		parts.push([`attn ${l}`, v, `attention output of layer ${l}`]);
		parts.push([`mlp ${l}`, d.mlp_out[l], `MLP output of layer ${l}`]);
	});
	parts.push(["ln_f bias", d.ln_final_bias, "the final LayerNorm's bias"]);
	let sum = 0;
	const out = parts.map(([name, value, what]) => {
		const b = { name, value, what, from: sum, to: sum + value };
		sum += value;
		return b;
	});
	out.push({ name: "total", value: d.total, what: "the run's metric", from: 0, to: d.total, total: true, sum });
	return out;
}

function render(s) {
	const p = state.p, e = entry(s);
	const why = status(s, e);
	p.runSelect.value = inspect.run();
	enableExports(p, !why);
	for (const x of [p.bars, p.gridBox, p.sum]) x.hidden = !!why;
	if (why) {
		p.caption.textContent = why;
		state.bars = state.heads = null;
		fillTable(p, "Direct logit attribution", [], []);
		return;
	}
	const d = e.views.dla, t = s.request;
	const redo = state.shown !== e;
	state.shown = e;
	state.bars = barsOf(d);
	const sum = state.bars[state.bars.length - 1].sum;
	p.caption.textContent = `Showing: the ${e.run} run, at the last position${s.stale ? " — for the texts last run (the inputs have changed since: Run to update)" : ""}`;
	p.sum.textContent = `The parts add up to ${precise(sum)}; the ${e.run} run's metric is ${precise(d.total)}.`;
	drawBars();
	const H = d.heads[0].length, L = d.heads.length;
	const values = Float64Array.from(d.heads.flat());
	let mx = 0;
	for (const v of values) mx = Math.max(mx, Math.abs(v));
	state.heads = {
		title: `Heads · ${e.run} run`,
		subtitle: `each head's direct share of logit(${quoted(t.corrupted_target)}) − logit(${quoted(t.clean_target)}) at the last position`,
		rows: L, cols: H, values,
		rowLabels: Array.from({ length: L }, (_, l) => String(l)),
		colLabels: Array.from({ length: H }, (_, h) => `H${h}`),
		breaks: [], rowAxis: "layer", colAxis: "head", range: niceMax(mx),
	};
	state.grid.focus = state.focusHead;
	if (!p.root.hidden) state.grid.render(state.heads);
	p.grid.setAttribute("aria-label", `Heads' direct contributions, ${L} layers by ${H} heads, from ${precise(-state.heads.range)} (blue) to ${precise(state.heads.range)} (red).`);
	if (redo) {
		const rows = state.bars.map((b) => [b.name, b.value, b.total ? b.value : b.to]);
		for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) rows.push([`layer ${l} head ${h}`, d.heads[l][h], "—"]);
		fillTable(p, `Direct logit attribution of the ${e.run} run at the last position: each component's contribution, the running sum, then each head's.`,
			["component", "contribution", "running sum"], rows);
	}
}

// ---------------------------------------------------------------- bars

function barLayout(ctx, bars, width) {
	ctx.font = `12px ${FONT}`;
	const left = 78, right = 64, top = 30, rowH = 20, gap = 8;
	const lo = Math.min(0, ...bars.map((b) => Math.min(b.from, b.to))), hi = Math.max(0, ...bars.map((b) => Math.max(b.from, b.to)));
	const span = hi - lo || 1;
	const plotW = Math.max(160, width - left - right);
	const x = (v) => left + ((v - lo) / span) * plotW;
	const range = niceMax(Math.max(...bars.filter((b) => !b.total).map((b) => Math.abs(b.value))));
	return { left, right, top, rowH, gap, x, lo, hi, range, width: left + plotW + right, height: top + bars.length * rowH + gap + 26 };
}

function barY(B, i, n) {
	return B.top + i * B.rowH + (i === n - 1 ? B.gap : 0);
}

function drawBarChart(ctx, B, bars, title, focus) {
	ctx.fillStyle = "#fff";
	ctx.fillRect(0, 0, B.width, B.height);
	ctx.fillStyle = "#111";
	ctx.font = `600 14px ${FONT}`;
	ctx.textAlign = "left";
	ctx.textBaseline = "alphabetic";
	ctx.fillText(title, 6, 18);
	ctx.font = `12px ${FONT}`;
	const n = bars.length;
	const x0 = B.x(0);
	for (const [i, b] of bars.entries()) {
		const y = barY(B, i, n), h = B.rowH - 5;
		const a = B.x(Math.min(b.from, b.to)), w = Math.max(1, Math.abs(B.x(b.to) - B.x(b.from)));
		ctx.fillStyle = b.total ? color(Math.sign(b.value) * 0.85) : color(b.value / B.range);
		ctx.fillRect(a, y, w, h);
		ctx.strokeStyle = b.total ? "#111" : "#888";
		ctx.lineWidth = b.total ? 1.5 : 0.75;
		ctx.strokeRect(a + 0.5, y + 0.5, w - 1, h - 1);
		// A thin line from each bar's end to the next bar's start.
		if (i < n - 2) {
			ctx.strokeStyle = "#bbb";
			ctx.lineWidth = 1;
			ctx.beginPath();
			ctx.moveTo(B.x(b.to), y + h);
			ctx.lineTo(B.x(b.to), y + B.rowH);
			ctx.stroke();
		}
		ctx.fillStyle = "#222";
		ctx.textBaseline = "middle";
		ctx.textAlign = "right";
		ctx.font = b.total ? `600 12px ${FONT}` : `12px ${FONT}`;
		ctx.fillText(b.name, B.left - 8, y + h / 2);
		ctx.textAlign = "left";
		const end = Math.max(B.x(b.from), B.x(b.to));
		ctx.fillText((b.value >= 0 ? "+" : "") + format(b.value), Math.min(end + 4, B.width - B.right + 4), y + h / 2);
		if (focus === i) {
			ctx.strokeStyle = "#000";
			ctx.lineWidth = 2;
			ctx.strokeRect(2, y - 2, B.width - 4, h + 4);
		}
	}
	// The zero line and the total's line, through every bar.
	const bottom = barY(B, n - 1, n) + B.rowH;
	ctx.strokeStyle = "#333";
	ctx.lineWidth = 1;
	ctx.beginPath();
	ctx.moveTo(x0, B.top - 4);
	ctx.lineTo(x0, bottom);
	ctx.stroke();
	const xt = B.x(bars[n - 1].value);
	ctx.setLineDash([4, 3]);
	ctx.beginPath();
	ctx.moveTo(xt, B.top - 4);
	ctx.lineTo(xt, bottom);
	ctx.stroke();
	ctx.setLineDash([]);
	ctx.fillStyle = "#444";
	ctx.textAlign = "center";
	ctx.textBaseline = "top";
	ctx.fillText("0", x0, bottom + 2);
	ctx.fillText(`total ${format(bars[n - 1].value)}`, xt, bottom + 12);
}

function drawBars() {
	const p = state.p, bars = state.bars;
	if (!bars) return;
	state.B = barLayout(p.bars.getContext("2d"), bars, Math.max(300, Math.min(760, boxWidth(p))));
	const ctx = sized(p.bars, state.B.width, state.B.height);
	drawBarChart(ctx, state.B, bars, `Direct logit attribution · ${inspect.run()} run`, state.focusBar);
	p.bars.setAttribute("aria-label", `Bar chart of ${bars.length - 1} components adding up to the total ${precise(bars[bars.length - 1].value)}.`);
}

function describeBar(i) {
	const b = state.bars[i];
	return b.total ? `total (the run's metric): ${precise(b.value)}` : `${b.name} (${b.what}): ${b.value >= 0 ? "+" : ""}${precise(b.value)}, running sum ${precise(b.to)}`;
}

function barAt(y) {
	const B = state.B, n = state.bars.length;
	for (let i = 0; i < n; i++) {
		const top = barY(B, i, n);
		if (y >= top && y < top + B.rowH) return i;
	}
	return null;
}

function describeHead(cell) {
	const s = state.last, e = entry(s), v = e.views.dla.heads[cell.r][cell.c];
	return `layer ${cell.r}, head ${cell.c}\ndirect contribution: ${v >= 0 ? "+" : ""}${precise(v)}`;
}

function bindInput() {
	const p = state.p;
	p.bars.addEventListener("mousemove", (ev) => {
		if (!state.bars) return;
		const rect = p.bars.getBoundingClientRect();
		const x = ev.clientX - rect.left, y = ev.clientY - rect.top, i = barAt(y);
		tip(p, i === null ? null : describeBar(i), x + p.bars.offsetLeft, y + p.bars.offsetTop);
	});
	p.bars.addEventListener("mouseleave", () => tip(p, null));
	const focusBar = (i) => {
		state.focusBar = i;
		drawBars();
		p.live.textContent = describeBar(i);
		tip(p, describeBar(i), state.B.left + p.bars.offsetLeft, barY(state.B, i, state.bars.length) + state.B.rowH + p.bars.offsetTop - 10);
	};
	p.bars.addEventListener("focus", () => state.bars && focusBar(state.focusBar ?? 0));
	p.bars.addEventListener("blur", () => {
		tip(p, null);
		const f = state.focusBar;
		state.focusBar = null;
		drawBars();
		state.focusBar = f;
	});
	p.bars.addEventListener("keydown", (ev) => {
		if (!state.bars) return;
		const n = state.bars.length, i = state.focusBar ?? 0;
		const next = { ArrowUp: i - 1, ArrowDown: i + 1, Home: 0, End: n - 1 }[ev.key];
		if (next === undefined) return;
		ev.preventDefault();
		focusBar(Math.max(0, Math.min(n - 1, next)));
	});

	const grid = state.grid;
	p.grid.addEventListener("mousemove", (ev) => {
		if (!state.heads) return;
		const rect = p.grid.getBoundingClientRect();
		const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
		const cell = grid.cellAt(x, y);
		if (JSON.stringify(cell) !== JSON.stringify(grid.hover)) {
			grid.hover = cell;
			grid.render();
		}
		tip(p, cell && describeHead(cell), x + p.grid.offsetLeft + p.gridBox.offsetLeft, y + p.grid.offsetTop);
	});
	p.grid.addEventListener("mouseleave", () => {
		grid.hover = null;
		grid.render();
		tip(p, null);
	});
	const focusHead = (cell) => {
		state.focusHead = cell;
		grid.focus = cell;
		grid.render();
		p.live.textContent = describeHead(cell).replace("\n", ": ");
		const L = grid.L;
		tip(p, describeHead(cell), L.left + cell.c * L.cellW + p.grid.offsetLeft, L.top + (cell.r + 1) * L.cellH + p.grid.offsetTop - 10);
	};
	p.grid.addEventListener("focus", () => state.heads && focusHead(state.focusHead || { r: 0, c: 0 }));
	p.grid.addEventListener("blur", () => {
		tip(p, null);
		grid.focus = null;
		grid.render();
	});
	p.grid.addEventListener("keydown", (ev) => {
		const m = state.heads;
		if (!m) return;
		const next = arrows(ev.key, state.focusHead || { r: 0, c: 0 }, m.rows, m.cols);
		if (!next) return;
		ev.preventDefault();
		focusHead(next);
	});
	window.addEventListener("resize", () => {
		if (p.root.hidden || !state.bars) return;
		drawBars();
		grid.render();
	});
}

// ---------------------------------------------------------------- exports

const formats = {
	png: async () => {
		if (!state.bars || !state.heads) return null;
		const ctx = document.createElement("canvas").getContext("2d");
		const B = barLayout(ctx, state.bars, 640);
		const G = heatLayout(ctx, state.heads, 640);
		const w = Math.max(B.width, G.width);
		return {
			blob: await png(w, B.height + G.height, (c) => {
				drawBarChart(c, B, state.bars, `Direct logit attribution · ${inspect.run()} run`, null);
				c.translate(0, B.height);
				heatDraw(c, state.heads, G, { export: true });
			}), ext: "png",
		};
	},
	csv: async () => {
		const s = state.last, e = s && entry(s);
		if (!e || !e.views) return null;
		const d = e.views.dla;
		const rows = [["component", "layer", "head", "contribution"], ["embed", "", "", d.embed]];
		d.attn_out.forEach((v, l) => rows.push(["attn_out", l, "", v], ["mlp_out", l, "", d.mlp_out[l]]));
		rows.push(["ln_final_bias", "", "", d.ln_final_bias], ["total", "", "", d.total]);
		d.heads.forEach((hs, l) => hs.forEach((v, h) => rows.push(["head", l, h, v])));
		d.attn_bias.forEach((v, l) => rows.push(["attn_bias", l, "", v]));
		return { blob: textBlob(csv(rows), "text/csv"), ext: "csv" };
	},
	json: async () => {
		const s = state.last, e = s && entry(s);
		if (!e || !e.views) return null;
		return { blob: textBlob(JSON.stringify({ run: e.run, [`dla_${e.run}`]: e.views.dla }), "application/json"), ext: "json" };
	},
};
dlaView.exports = formats;
