// The heatmap on a canvas: layout, drawing (crisp at any devicePixelRatio),
// hit testing, and the PNG export (the same drawing, at twice the size,
// labels and colour bar included). It draws a model of heatmap-data.js.
// Owns no state but its Heatmap objects' (the model drawn, hover, focus).

import { format } from "./heatmap-data.js";

// A diverging scale centred at 0: blue below, white at 0, red above
// (ColorBrewer RdBu, reversed).
const STOPS = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"]
	.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

// color maps t in [−1, 1] to an rgb() string.
export function color(t) {
	if (!Number.isFinite(t)) return "#d9d9d9";
	const x = ((Math.max(-1, Math.min(1, t)) + 1) / 2) * (STOPS.length - 1);
	const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
	const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * f));
	return `rgb(${c[0]},${c[1]},${c[2]})`;
}

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";

function truncate(ctx, s, w) {
	if (ctx.measureText(s).width <= w) return s;
	while (s.length > 1 && ctx.measureText(s + "…").width > w) s = s.slice(0, -1);
	return s + "…";
}

// layout places everything for a heatmap model m in a canvas width wide (CSS px).
export function layout(ctx, m, width) {
	const pad = 10;
	ctx.font = `12px ${FONT}`;
	const rowLabelW = Math.max(...m.rowLabels.map((s) => ctx.measureText(s).width), 20) + 8;
	const colLabels = m.colLabels.map((s) => truncate(ctx, s, 110));
	const colLabelW = Math.max(...colLabels.map((s) => ctx.measureText(s).width), 10);
	const left = pad + 18 + rowLabelW; // axis title, row labels
	const top = pad + 40 + 18 * (m.moreTitle || []).length; // title, subtitle and more lines (reportkit.js)
	const barW = 14, barGap = 18, tickW = 54;
	const right = pad + barGap + barW + tickW;
	const cellW = Math.max(10, Math.min(64, Math.floor((width - left - right) / m.cols)));
	const cellH = Math.max(5, Math.min(40, Math.round(Math.min(cellW * 0.8, 480 / m.rows))));
	const gridW = cellW * m.cols, gridH = cellH * m.rows;
	const angle = cellW >= colLabelW + 6 ? 0 : Math.PI / 4;
	const labelsH = angle ? colLabelW * Math.SQRT1_2 + 16 : 20;
	const height = top + Math.max(gridH, 140) + labelsH + 22 + pad;
	return { pad, left, top, cellW, cellH, gridW, gridH, barW, barGap, angle, labelsH, colLabels, width: left + gridW + right, height };
}

// draw draws heatmap m on ctx (already scaled to CSS px) with layout L.
export function draw(ctx, m, L, opts = {}) {
	const { left, top, cellW, cellH, gridW, gridH } = L;
	ctx.save();
	ctx.fillStyle = "#ffffff";
	ctx.fillRect(0, 0, L.width, L.height);
	ctx.fillStyle = "#111";
	ctx.textBaseline = "alphabetic";
	ctx.font = `600 15px ${FONT}`;
	ctx.fillText(m.title, L.pad, L.pad + 14);
	ctx.font = `12px ${FONT}`;
	ctx.fillStyle = "#444";
	ctx.fillText(truncate(ctx, m.subtitle, L.width - 2 * L.pad), L.pad, L.pad + 32);
	for (const [i, s] of (m.moreTitle || []).entries()) ctx.fillText(truncate(ctx, s, L.width - 2 * L.pad), L.pad, L.pad + 50 + 18 * i);

	// Cells.
	const showText = cellW >= 38 && cellH >= 16;
	ctx.textAlign = "center";
	ctx.textBaseline = "middle";
	ctx.font = `10px ${FONT}`;
	for (let r = 0; r < m.rows; r++) {
		for (let c = 0; c < m.cols; c++) {
			const v = m.values[r * m.cols + c];
			const t = v / m.range;
			ctx.fillStyle = color(t);
			ctx.fillRect(left + c * cellW, top + r * cellH, cellW, cellH);
			if (showText && Number.isFinite(v)) {
				ctx.fillStyle = Math.abs(t) > 0.55 ? "#fff" : "#222";
				// m.cellText(r, c), if given, is the text of a cell (the logit lens's top-1 token).
				if (m.cellText) ctx.fillText(m.cellText(r, c) ?? format(v), left + c * cellW + cellW / 2, top + r * cellH + cellH / 2 + 0.5, cellW - 4);
				else ctx.fillText(format(v), left + c * cellW + cellW / 2, top + r * cellH + cellH / 2 + 0.5);
			}
		}
	}
	// Separate the embedding row (and other stacked parts) with a line.
	ctx.strokeStyle = "#fff";
	ctx.lineWidth = 2;
	for (const r of m.breaks || []) {
		ctx.beginPath();
		ctx.moveTo(left, top + r * cellH);
		ctx.lineTo(left + gridW, top + r * cellH);
		ctx.stroke();
	}
	ctx.strokeStyle = "#999";
	ctx.lineWidth = 1;
	ctx.strokeRect(left - 0.5, top - 0.5, gridW + 1, gridH + 1);

	// Row labels and axis title.
	ctx.fillStyle = "#222";
	ctx.font = `12px ${FONT}`;
	ctx.textAlign = "right";
	const every = Math.max(1, Math.ceil(13 / cellH));
	for (let r = 0; r < m.rows; r += every) ctx.fillText(m.rowLabels[r], left - 6, top + r * cellH + cellH / 2);
	ctx.save();
	ctx.translate(L.pad + 6, top + gridH / 2);
	ctx.rotate(-Math.PI / 2);
	ctx.textAlign = "center";
	ctx.fillStyle = "#444";
	ctx.fillText(m.rowAxis, 0, 0);
	ctx.restore();

	// Column labels, rotated when they do not fit.
	const y0 = top + gridH + 6;
	for (let c = 0; c < m.cols; c++) {
		const x = left + c * cellW + cellW / 2;
		ctx.save();
		ctx.fillStyle = "#222";
		if (L.angle) {
			ctx.translate(x + 3, y0);
			ctx.rotate(-L.angle);
			ctx.textAlign = "right";
			ctx.textBaseline = "middle";
			ctx.fillText(L.colLabels[c], 0, 0);
		} else {
			ctx.textAlign = "center";
			ctx.textBaseline = "top";
			ctx.fillText(L.colLabels[c], x, y0);
		}
		ctx.restore();
	}
	ctx.textAlign = "center";
	ctx.textBaseline = "alphabetic";
	ctx.fillStyle = "#444";
	ctx.fillText(m.colAxis, left + gridW / 2, top + gridH + L.labelsH + 16);

	// Colour bar with its numbers.
	const bx = left + gridW + L.barGap, bh = Math.max(gridH, 140);
	for (let i = 0; i < bh; i++) {
		ctx.fillStyle = color(1 - (2 * (i + 0.5)) / bh);
		ctx.fillRect(bx, top + i, L.barW, 1);
	}
	ctx.strokeStyle = "#999";
	ctx.strokeRect(bx - 0.5, top - 0.5, L.barW + 1, bh + 1);
	ctx.fillStyle = "#222";
	ctx.textAlign = "left";
	ctx.textBaseline = "middle";
	const ticks = [1, 0.5, 0, -0.5, -1].map((f) => f * m.range);
	const digits = [0, 1, 2, 3, 4, 5].find((d) => ticks.every((v) => Math.abs(v * 10 ** d - Math.round(v * 10 ** d)) < 1e-6)) ?? 6;
	for (const v of ticks) {
		const y = top + ((1 - v / m.range) / 2) * bh;
		ctx.fillRect(bx + L.barW, Math.round(y), 4, 1);
		ctx.fillText(v.toFixed(digits).replace("-", "−"), bx + L.barW + 7, y);
	}

	// Hover and keyboard focus.
	const ring = (cell, w, c1, c2) => {
		if (!cell) return;
		const x = left + cell.c * cellW, y = top + cell.r * cellH;
		ctx.lineWidth = w;
		ctx.strokeStyle = c1;
		ctx.strokeRect(x + w / 2, y + w / 2, cellW - w, cellH - w);
		if (c2) {
			ctx.lineWidth = 1;
			ctx.strokeStyle = c2;
			ctx.strokeRect(x + w + 0.5, y + w + 0.5, cellW - 2 * w - 1, cellH - 2 * w - 1);
		}
	};
	if (!opts.export) {
		ring(opts.hover, 1.5, "#000");
		ring(opts.focus, 3, "#000", "#fff");
	}
	ctx.restore();
}

// cellAt finds the cell under (x, y) in CSS px, or null.
export function cellAt(L, m, x, y) {
	const c = Math.floor((x - L.left) / L.cellW), r = Math.floor((y - L.top) / L.cellH);
	if (c < 0 || r < 0 || c >= m.cols || r >= m.rows) return null;
	return { r, c };
}

// Heatmap keeps a canvas drawn for the current model and device pixel ratio.
export class Heatmap {
	constructor(canvas) {
		this.canvas = canvas;
		this.model = null;
		this.hover = null;
		this.focus = null;
	}
	render(model) {
		if (model) this.model = model;
		const m = this.model;
		if (!m) return;
		const canvas = this.canvas;
		const width = Math.max(320, canvas.parentElement.clientWidth);
		const ctx = canvas.getContext("2d");
		this.L = layout(ctx, m, width);
		const dpr = window.devicePixelRatio || 1;
		canvas.width = Math.round(this.L.width * dpr);
		canvas.height = Math.round(this.L.height * dpr);
		canvas.style.width = `${this.L.width}px`;
		canvas.style.height = `${this.L.height}px`;
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		draw(ctx, m, this.L, { hover: this.hover, focus: this.focus });
	}
	cellAt(x, y) {
		return this.model && this.L ? cellAt(this.L, this.model, x, y) : null;
	}
	// png renders the heatmap at scale× for export.
	png(scale = 2) {
		const c = document.createElement("canvas");
		const ctx = c.getContext("2d");
		const L = layout(ctx, this.model, Math.max(640, this.L ? this.L.width : 800));
		c.width = Math.round(L.width * scale);
		c.height = Math.round(L.height * scale);
		ctx.scale(scale, scale);
		draw(ctx, this.model, L, { export: true });
		return new Promise((resolve) => c.toBlob(resolve, "image/png"));
	}
}
