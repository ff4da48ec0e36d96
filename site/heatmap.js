// The heatmap on a canvas: layout, drawing (crisp at any devicePixelRatio),
// hit testing, and the PNG export (the same drawing, at twice the size,
// labels and colour bar included). It draws a model of heatmap-data.js.
// Owns no state but its Heatmap objects' (the model drawn, hover, focus).

import { sized } from "./dom.js";
import { format, tickLabels } from "./heatmap-data.js";

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

// wrap breaks text into lines at most w wide (at spaces; a word wider than
// w is a line of its own).
function wrap(ctx, text, w) {
	const lines = [];
	let line = "";
	for (const word of text.split(" ")) {
		const next = line ? `${line} ${word}` : word;
		if (line && ctx.measureText(next).width > w) {
			lines.push(line);
			line = word;
		} else line = next;
	}
	return [...lines, line];
}

const TITLE_FONT = `600 15px ${FONT}`, SUB_FONT = `12px ${FONT}`, MARK_FONT = `600 11px ${FONT}`;

// layout places everything for a heatmap model m in a canvas width wide
// (CSS px), the grid at most maxGridH tall; with opts.texts, the title
// carries both texts (as the command line's figures do); without
// opts.title, no title (the page writes it above the canvas); cells are at
// least minCell wide (wider ones to tap on a phone: the box then scrolls).
export function layout(ctx, m, width, { maxGridH = 480, texts = false, title = true, minCell = 10 } = {}) {
	const pad = 10;
	ctx.font = `12px ${FONT}`;
	const rowLabelW = Math.max(...m.rowLabels.map((s) => ctx.measureText(s).width), 20) + 8;
	const colLabels = m.colLabels.map((s) => truncate(ctx, s, 110));
	const colLabelW = Math.max(...colLabels.map((s) => ctx.measureText(s).width), 10);
	const left = pad + 18 + rowLabelW; // axis title, row labels
	const ticks = tickLabels(m.range);
	let tickW = Math.max(...ticks.map((s) => ctx.measureText(s).width));
	ctx.font = MARK_FONT;
	for (const k of m.marks || []) tickW = Math.max(tickW, ctx.measureText(`◂ ${k.name}`).width);
	const barW = 14, barGap = 18;
	const right = pad + barGap + barW + 8 + Math.ceil(tickW);
	const cellW = Math.max(minCell, Math.min(64, Math.floor((width - left - right) / m.cols)));
	const cellH = Math.max(5, Math.min(40, Math.round(Math.min(cellW * 0.8, maxGridH / m.rows))));
	const gridW = cellW * m.cols, gridH = cellH * m.rows;
	const angle = cellW >= colLabelW + 6 ? 0 : Math.PI / 4;
	const labelsH = angle ? colLabelW * Math.SQRT1_2 + 16 : 20;
	const w = left + gridW + right;
	// The title and subtitle wrap rather than being cut.
	const head = [];
	const lines = (text, font, h, color) => {
		ctx.font = font;
		for (const l of wrap(ctx, text, w - 2 * pad)) head.push({ text: l, font, h, color });
	};
	if (title) lines(m.title, TITLE_FONT, 19, "#111");
	// moreTitle: further lines a printed figure adds (reportkit.js).
	for (const part of title ? [m.subtitle, ...(texts ? m.texts || [] : []), ...(m.moreTitle || [])] : []) lines(part, SUB_FONT, 16, "#444");
	const top = pad + head.reduce((a, l) => a + l.h, 0) + 8;
	const height = top + Math.max(gridH + labelsH + 22, Math.max(gridH, 140) + 8) + pad;
	return { pad, left, top, head, ticks, cellW, cellH, gridW, gridH, barW, barGap, angle, labelsH, colLabels, width: w, height };
}

// drawRowLabels draws the row labels and the rows' axis title (on the
// heatmap, and on the strip that stays in view when the heatmap scrolls).
function drawRowLabels(ctx, m, L) {
	const { left, top, cellH, gridH } = L;
	ctx.fillStyle = "#222";
	ctx.font = `12px ${FONT}`;
	ctx.textAlign = "right";
	ctx.textBaseline = "middle";
	const every = Math.max(1, Math.ceil(13 / cellH));
	for (let r = 0; r < m.rows; r += every) ctx.fillText(m.rowLabels[r], left - 6, top + r * cellH + cellH / 2);
	ctx.save();
	ctx.translate(L.pad + 6, top + gridH / 2);
	ctx.rotate(-Math.PI / 2);
	ctx.textAlign = "center";
	ctx.fillStyle = "#444";
	ctx.fillText(m.rowAxis, 0, 0);
	ctx.restore();
}

// draw draws heatmap m on ctx (already scaled to CSS px) with layout L.
export function draw(ctx, m, L, opts = {}) {
	const { left, top, cellW, cellH, gridW, gridH } = L;
	ctx.save();
	ctx.fillStyle = "#ffffff";
	ctx.fillRect(0, 0, L.width, L.height);
	ctx.textBaseline = "alphabetic";
	let y = L.pad;
	for (const l of L.head) {
		y += l.h;
		ctx.font = l.font;
		ctx.fillStyle = l.color;
		ctx.fillText(l.text, L.pad, y - 4);
	}

	// Cells, with their numbers where they fit.
	const showText = cellW >= 26 && cellH >= 14;
	ctx.textAlign = "center";
	ctx.textBaseline = "middle";
	ctx.font = `10px ${FONT}`;
	for (let r = 0; r < m.rows; r++) {
		for (let c = 0; c < m.cols; c++) {
			const v = m.values[r * m.cols + c];
			const t = v / m.range;
			ctx.fillStyle = color(t);
			ctx.fillRect(left + c * cellW, top + r * cellH, cellW, cellH);
			// m.cellText(r, c), if given, is the text of a cell (the logit lens's top-1 token).
			const own = showText && Number.isFinite(v) && m.cellText ? m.cellText(r, c) : null;
			const s = own ?? (showText && Number.isFinite(v) ? format(v, m.range) : "");
			if (s && (own != null || ctx.measureText(s).width <= cellW - 4)) {
				ctx.fillStyle = Math.abs(t) > 0.55 ? "#fff" : "#222";
				ctx.fillText(s, left + c * cellW + cellW / 2, top + r * cellH + cellH / 2 + 0.5, cellW - 4);
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

	drawRowLabels(ctx, m, L);

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
	const yOf = (v) => top + ((1 - Math.max(-1, Math.min(1, v / m.range))) / 2) * bh;
	// The unpatched runs' marks; a number too close to one gives way.
	const marks = (m.marks || []).map((k) => ({ ...k, y: yOf(k.value) }));
	if (marks.length === 2 && Math.abs(marks[0].y - marks[1].y) < 12) {
		const [a, b] = marks[0].y <= marks[1].y ? marks : [marks[1], marks[0]];
		const mid = (a.y + b.y) / 2;
		a.ly = mid - 6;
		b.ly = mid + 6;
	}
	ctx.font = `12px ${FONT}`;
	[1, 0.5, 0, -0.5, -1].forEach((f, i) => {
		const y = yOf(f * m.range);
		ctx.fillRect(bx + L.barW, Math.round(y), 4, 1);
		if (!marks.some((k) => Math.abs((k.ly ?? k.y) - y) < 12)) ctx.fillText(L.ticks[i], bx + L.barW + 7, y);
	});
	ctx.font = MARK_FONT;
	for (const k of marks) {
		ctx.fillStyle = "#fff";
		ctx.fillRect(bx - 3, Math.round(k.y) - 2, L.barW + 6, 4);
		ctx.fillStyle = "#000";
		ctx.fillRect(bx - 3, Math.round(k.y) - 1, L.barW + 6, 2);
		ctx.fillText(`◂ ${k.name}`, bx + L.barW + 5, k.ly ?? k.y);
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


// Heatmap keeps a canvas drawn for the current model and device pixel
// ratio. When the heatmap is wider than its box (which then scrolls),
// the rows' labels are drawn again on rowsCanvas, which stays in view.
// With {title: false}, the page writes the title above the canvas.
export class Heatmap {
	constructor(canvas, rowsCanvas = null, { title = true } = {}) {
		this.canvas = canvas;
		this.rowsCanvas = rowsCanvas;
		this.title = title;
		this.model = null;
		this.hover = null;
		this.focus = null;
	}
	render(model) {
		if (model) this.model = model;
		const m = this.model;
		if (!m) return;
		const canvas = this.canvas, box = canvas.parentElement;
		const width = Math.max(200, box.clientWidth);
		// On a laptop the whole heatmap stays in view under its caption.
		const maxGridH = Math.max(160, Math.min(480, (window.innerHeight || 800) - 260));
		const minCell = width < 560 ? 22 : 10; // a fingertip's width on a phone
		this.L = layout(canvas.getContext("2d"), m, width, { maxGridH, minCell, title: this.title });
		draw(sized(canvas, this.L.width, this.L.height), m, this.L, { hover: this.hover, focus: this.focus });
		const scrolls = this.L.width > box.clientWidth + 1;
		if (this.rowsCanvas) {
			this.rowsCanvas.hidden = !scrolls;
			canvas.style.marginLeft = scrolls ? `${-this.L.left}px` : "";
			if (scrolls) {
				// Opaque beside the rows only: the title scrolls by under it.
				const ctx = sized(this.rowsCanvas, this.L.left, this.L.height);
				ctx.fillStyle = "#fff";
				ctx.fillRect(0, this.L.top - 1, this.L.left - 1, this.L.gridH + 2);
				drawRowLabels(ctx, m, this.L);
			}
		}
	}
	cellAt(x, y) {
		return this.model && this.L ? cellAt(this.L, this.model, x, y) : null;
	}
	// png renders the heatmap at scale× for export.
	png(scale = 2) {
		const c = document.createElement("canvas");
		const ctx = c.getContext("2d");
		const L = layout(ctx, this.model, Math.max(640, this.L ? this.L.width : 800), { texts: true });
		c.width = Math.round(L.width * scale);
		c.height = Math.round(L.height * scale);
		ctx.scale(scale, scale);
		draw(ctx, this.model, L, { export: true });
		return new Promise((resolve) => c.toBlob(resolve, "image/png"));
	}
}
