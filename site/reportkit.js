// The report kit: everything a student's report needs of the heatmap shown,
// as one zip written in the page. The page draws the figures — the heatmap
// as PNG at print resolution (16 cm at 300 dpi: 1890 px wide, by the
// canvas drawing of heatmap.js) and as SVG (from the same model and
// layout) — and the engine (a worker's reportKit, wasm/report.go) writes
// the rest with the CLI's own code (model/report: the tables and
// tokenizations as Markdown and LaTeX, the caption, the LaTeX figure; the
// JSON record, the JSON export's bytes) and zips it all with Go's
// archive/zip. Owns no state.

import { layout, draw, color } from "./heatmap.js";
import { format } from "./heatmap-data.js";

// The print figure: 16 cm wide at 300 dpi.
export const KIT_PNG_WIDTH = 1890;
// The width the figure is laid out at, in CSS px, before it is scaled to
// KIT_PNG_WIDTH: labels come out at some 6 pt on the printed page.
const LAYOUT_WIDTH = 860;
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";

// quote writes a text as the CLI's figure titles do (Go's %q).
const quote = (s) => JSON.stringify(s);

// formula says what the metric measures, with the targets, as the CLI's
// figures (tools/patchlab/views.go, metricFormula).
function formula(metric, req) {
	const clean = quote(req.clean_target), corrupted = quote(req.corrupted_target);
	const diff = `logit(${corrupted}) − logit(${clean})`;
	switch (metric) {
	case "clean_target_delta":
		return `logit(${clean}) − its clean-run value`;
	case "normalized":
		return `(Δ − Δ corrupted) / (Δ clean − Δ corrupted), Δ = ${diff}`;
	case "prob_diff":
		return `p(${corrupted}) − p(${clean})`;
	}
	return diff;
}

// printModel is heatmap model m titled as the CLI's figures are: the site
// and metric, then both texts.
export function printModel(m, request) {
	const site = m.site === "resid_post" && m.rowLabels[0] === "embed" ? "resid_post (and embed)" : m.site;
	return {
		...m,
		title: `Activation patching, ${site}: ${m.metric} = ${formula(m.metric, request)}`,
		subtitle: `clean: ${quote(request.clean)}`,
		moreTitle: [`corrupted: ${quote(request.corrupted)}`],
	};
}

function figureLayout(pm) {
	const ctx = document.createElement("canvas").getContext("2d");
	return layout(ctx, pm, LAYOUT_WIDTH);
}

// png draws pm at KIT_PNG_WIDTH pixels wide.
export function png(pm) {
	const L = figureLayout(pm);
	const scale = KIT_PNG_WIDTH / L.width;
	const c = document.createElement("canvas");
	c.width = KIT_PNG_WIDTH;
	c.height = Math.round(L.height * scale);
	const ctx = c.getContext("2d");
	ctx.scale(scale, scale);
	draw(ctx, pm, L, { export: true });
	return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error("the browser could not encode the PNG"))), "image/png"));
}

const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);

// svg writes pm as SVG with the layout of the PNG (heatmap.js): cells
// with their values where they fit, labels, axis titles and colour bar;
// 16 cm wide on paper.
export function svg(pm) {
	const L = figureLayout(pm);
	const { left, top, cellW, cellH, gridW, gridH, pad } = L;
	const out = [];
	const text = (x, y, s, attrs = "") => out.push(`<text x="${x}" y="${y}"${attrs ? " " + attrs : ""}>${esc(s)}</text>`);
	out.push(`<?xml version="1.0" encoding="UTF-8"?>`,
		`<svg xmlns="http://www.w3.org/2000/svg" width="16cm" height="${(16 * L.height / L.width).toFixed(3)}cm" viewBox="0 0 ${L.width} ${L.height}" font-family="${esc(FONT)}">`,
		`<rect width="${L.width}" height="${L.height}" fill="#ffffff"/>`);
	// The title lines as the canvas lays them out (heatmap.js: wrapped).
	let y = pad;
	for (const l of L.head) {
		y += l.h;
		text(pad, y - 4, l.text, l.font.startsWith("600") ? `font-size="15" font-weight="600" fill="${l.color}"` : `font-size="12" fill="${l.color}"`);
	}

	// Cells, with their values where they fit (as on the canvas).
	const showText = cellW >= 38 && cellH >= 16;
	out.push(`<g shape-rendering="crispEdges">`);
	for (let r = 0; r < pm.rows; r++) {
		for (let c = 0; c < pm.cols; c++) {
			const v = pm.values[r * pm.cols + c];
			out.push(`<rect x="${left + c * cellW}" y="${top + r * cellH}" width="${cellW}" height="${cellH}" fill="${color(v / pm.range)}"/>`);
		}
	}
	out.push(`</g>`);
	if (showText) {
		out.push(`<g font-size="10" text-anchor="middle" dominant-baseline="central">`);
		for (let r = 0; r < pm.rows; r++) {
			for (let c = 0; c < pm.cols; c++) {
				const v = pm.values[r * pm.cols + c];
				if (Number.isFinite(v)) text(left + c * cellW + cellW / 2, top + r * cellH + cellH / 2, format(v), `fill="${Math.abs(v / pm.range) > 0.55 ? "#fff" : "#222"}"`);
			}
		}
		out.push(`</g>`);
	}
	for (const r of pm.breaks || []) out.push(`<line x1="${left}" y1="${top + r * cellH}" x2="${left + gridW}" y2="${top + r * cellH}" stroke="#fff" stroke-width="2"/>`);
	out.push(`<rect x="${left - 0.5}" y="${top - 0.5}" width="${gridW + 1}" height="${gridH + 1}" fill="none" stroke="#999"/>`);

	// Row labels and axis title.
	out.push(`<g font-size="12" fill="#222" text-anchor="end" dominant-baseline="central">`);
	const every = Math.max(1, Math.ceil(13 / cellH));
	for (let r = 0; r < pm.rows; r += every) text(left - 6, top + r * cellH + cellH / 2, pm.rowLabels[r]);
	out.push(`</g>`);
	text(0, 0, pm.rowAxis, `font-size="12" fill="#444" text-anchor="middle" dominant-baseline="central" transform="translate(${pad + 6} ${top + gridH / 2}) rotate(-90)"`);

	// Column labels, rotated when they do not fit.
	const y0 = top + gridH + 6;
	out.push(`<g font-size="12" fill="#222">`);
	for (let c = 0; c < pm.cols; c++) {
		const x = left + c * cellW + cellW / 2;
		if (L.angle) text(0, 0, L.colLabels[c], `text-anchor="end" dominant-baseline="central" transform="translate(${x + 3} ${y0}) rotate(-45)"`);
		else text(x, y0, L.colLabels[c], `text-anchor="middle" dominant-baseline="hanging"`);
	}
	out.push(`</g>`);
	text(left + gridW / 2, top + gridH + L.labelsH + 16, pm.colAxis, `font-size="12" fill="#444" text-anchor="middle"`);

	// Colour bar: the scale's colours from +range (top) to −range, and its numbers.
	const bx = left + gridW + L.barGap, bh = Math.max(gridH, 140);
	const stops = Array.from({ length: 11 }, (_, i) => `<stop offset="${i / 10}" stop-color="${color(1 - i / 5)}"/>`).join("");
	out.push(`<defs><linearGradient id="scale" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
		`<rect x="${bx}" y="${top}" width="${L.barW}" height="${bh}" fill="url(#scale)"/>`,
		`<rect x="${bx - 0.5}" y="${top - 0.5}" width="${L.barW + 1}" height="${bh + 1}" fill="none" stroke="#999"/>`);
	const ticks = [1, 0.5, 0, -0.5, -1].map((f) => f * pm.range);
	const digits = [0, 1, 2, 3, 4, 5].find((d) => ticks.every((v) => Math.abs(v * 10 ** d - Math.round(v * 10 ** d)) < 1e-6)) ?? 6;
	out.push(`<g font-size="12" fill="#222" dominant-baseline="central">`);
	for (const v of ticks) {
		const y = top + ((1 - v / pm.range) / 2) * bh;
		out.push(`<rect x="${bx + L.barW}" y="${Math.round(y)}" width="4" height="1" fill="#222"/>`);
		text(bx + L.barW + 7, y, v.toFixed(digits).replace("-", "−"));
	}
	out.push(`</g>`, `</svg>`, "");
	return out.join("\n");
}

// problem says why the kit cannot be made of heatmap model m, or "".
export function problem(m) {
	if (!m) return "nothing has run yet";
	if (m.problem === "probs") return "this metric needs probabilities the sweep did not compute: run again with them, or choose another metric";
	if (m.problem === "flat") return "the normalized metric is undefined for these texts: choose another metric";
	if (m.computed < m.rows) return "the heatmap is not complete yet: let the run finish";
	return "";
}

// makeKit makes the kit of heatmap model m of the texts request: pool is
// the worker pool, record the sweeps and metric of the JSON export
// ({sweeps, metric}). Resolves with the zip as a Blob.
export async function makeKit({ pool, m, request, record }) {
	const why = problem(m);
	if (why) throw new Error(why);
	const pm = printModel(m, request);
	const pngBytes = new Uint8Array(await (await png(pm)).arrayBuffer());
	const svgBytes = new TextEncoder().encode(svg(pm));
	const zip = await pool.reportKit(request, record.sweeps, { view: m.site, metric: m.metric, record_metric: record.metric },
		[{ name: "heatmap.png", bytes: pngBytes }, { name: "heatmap.svg", bytes: svgBytes }]);
	return new Blob([zip], { type: "application/zip" });
}
