// The heatmap's data model: what a heatmap shows, built from the engine's
// site table, the baseline, the sweeps and the metric, apart from any
// drawing (heatmap.js draws it). Owns no state: every function is pure.

import { visible } from "./dom.js";
import { METRICS, metricValue, metricProblem } from "./metrics.js";
import * as sites from "./sites.js";

// heatmapData builds the model of one view for the texts of request:
// {site (the view's name), short, metric, problem, computed, title,
// subtitle, rows, cols, values, rowLabels, colLabels, colNames, rowOf,
// breaks, rowAxis, colAxis, range}. values holds the metric of every cell,
// NaN where it is not computed; colLabels are shown, colNames are the
// engine's (the CLI's CSV headers); rowOf says which site and row of it
// each heatmap row is; breaks are the rows where a stacked site begins.
export function heatmapData({ info, view, metric, baseline: b, request, sweepOf }) {
	const T = b.clean_tokens.length;
	const parts = view.parts.map((name) => {
		const s = sites.site(info, name);
		return { s, cols: sites.cols(s, T), sweep: sweepOf(name) };
	});
	const first = parts[0].s, cols = parts[0].cols;
	const rows = parts.reduce((a, p) => a + p.s.rows, 0);
	const base = { clean: b.clean_base, corrupted: b.corrupted_base };
	const haveProbs = parts.every((p) => !p.sweep || p.sweep.probs);
	const problem = metricProblem(metric, base, haveProbs);
	const values = new Float64Array(rows * cols).fill(NaN);
	const rowLabels = [], rowOf = [], breaks = [];
	let r0 = 0, computed = 0;
	for (const p of parts) {
		if (r0 > 0) breaks.push(r0);
		for (let r = 0; r < p.s.rows; r++) {
			rowLabels.push(p.s.row_labels[r]);
			rowOf.push({ site: p.s, r });
			if (!p.sweep || !p.sweep.done[r]) continue;
			computed++;
			if (problem) continue;
			for (let c = 0; c < cols; c++) values[(r0 + r) * cols + c] = metricValue(metric, p.sweep.cells, r * cols + c, base);
		}
		r0 += p.s.rows;
	}
	// The two unpatched runs, marked beside the colour bar: where a cell
	// sits between them says how much of the clean answer its patch restores.
	const marks = problem ? [] : [["clean", b.clean_base], ["corrupted", b.corrupted_base]]
		.map(([name, cell]) => ({ name, value: metricValue(metric, cell, 0, base) }))
		.filter((k) => Number.isFinite(k.value));
	let mx = 0;
	for (const v of values) if (Number.isFinite(v)) mx = Math.max(mx, Math.abs(v));
	for (const k of marks) mx = Math.max(mx, Math.abs(k.value));
	const targets = { clean: `“${visible(request.clean_target)}”`, corrupted: `“${visible(request.corrupted_target)}”` };
	const m = METRICS[metric];
	return {
		site: view.name, metric, problem, computed,
		title: `${view.short} · ${m.label}`,
		subtitle: `${m.formula(targets)} — ${view.direction === "noise" ? "noising: the clean run with one activation patched from the corrupted run" : "corrupted run with one activation patched from the clean run"}`,
		texts: [`clean: ${JSON.stringify(request.clean)}`, `corrupted: ${JSON.stringify(request.corrupted)}`],
		marks,
		rows, cols, values, rowLabels, rowOf, breaks,
		colLabels: sites.colLabels(first, sites.positionLabels(b)),
		colNames: sites.colLabels(first, b.position_labels),
		rowAxis: first.row_title,
		colAxis: first.col_title,
		range: niceMax(mx),
		short: view.short,
	};
}

// describeCell says in words which cell it is and its value.
export function describeCell(m, cell) {
	const { site, r } = m.rowOf[cell.r];
	const label = site.row_labels[r];
	let row = /^\d+$/.test(label) ? `${site.row_title} ${label}` : label;
	if (site.rows === 1) row += ` (${site.description})`;
	const col = site.columns === "heads" ? `${site.col_title}: ${m.colLabels[cell.c]}` : `${site.col_title} ${m.colLabels[cell.c]}`;
	const v = m.values[cell.r * m.cols + cell.c];
	return `${row} · ${col}\n${METRICS[m.metric].short}: ${precise(v)}`;
}

// csvRows is the matrix as rows of a CSV: a header of column labels (the
// CLI's), then a row per heatmap row, led by its label.
export function csvRows(m) {
	const rows = [[`${m.rowAxis} \\ ${m.colAxis}`, ...m.colNames]];
	for (let r = 0; r < m.rows; r++) rows.push([m.rowLabels[r], ...Array.from(m.values.subarray(r * m.cols, (r + 1) * m.cols))]);
	return rows;
}

// niceMax rounds a scale's end up to 1, 2, 2.5 or 5 times a power of ten.
export function niceMax(m) {
	if (!(m > 0)) return 1;
	const p = Math.pow(10, Math.floor(Math.log10(m)));
	for (const k of [1, 2, 2.5, 5, 10]) if (m <= k * p * 1.0000001) return k * p;
	return 10 * p;
}

// decimals is how many decimals the values of a scale up to range need:
// two below 10, one below 100, none above, and below 1 enough for two
// significant digits at the scale's end (a range of 0.005 shows 0.0031,
// not 0.00).
export function decimals(range) {
	if (!(range > 0)) return 2;
	const e = Math.floor(Math.log10(range) + 1e-9);
	return Math.max(0, Math.min(6, e >= 0 ? 2 - e : 1 - e));
}

// format is a cell's value in a few characters, its decimals chosen from
// the scale's range (without one: two below 10, one below 100, none above).
export function format(v, range) {
	if (!Number.isFinite(v)) return "—";
	const a = Math.abs(v);
	// Tiny or huge scales in powers of ten, as the colour bar's numbers.
	if (range && (range < 1e-3 || range >= 1e6)) return v === 0 ? "0" : v.toExponential(1).replace(/-/g, "−");
	const d = range ? decimals(range) : a >= 100 ? 0 : a >= 10 ? 1 : 2;
	let s = v.toFixed(d);
	if (/^-0(\.0*)?$/.test(s)) s = s.slice(1); // no "−0.00"
	return s.replace("-", "−");
}

// tickLabels are the colour bar's numbers at range × (1, ½, 0, −½, −1):
// exactly as many decimals as the five need (niceMax makes them short), or
// powers of ten for tiny or huge ranges.
export function tickLabels(range) {
	const ticks = [1, 0.5, 0, -0.5, -1].map((f) => f * range);
	if (range > 0 && (range < 1e-3 || range >= 1e6)) return ticks.map((v) => (v === 0 ? "0" : v.toExponential(2).replace(/\.?0+e/, "e").replace(/-/g, "−")));
	const whole = (x) => Math.abs(x - Math.round(x)) < 1e-6 * Math.max(1, Math.abs(x));
	const d = [0, 1, 2, 3, 4, 5].find((k) => ticks.every((v) => whole(v * 10 ** k))) ?? 6;
	return ticks.map((v) => (v === 0 ? "0" : v.toFixed(d).replace("-", "−")));
}

// precise is a value with four significant digits, for the tooltip, the
// announcements and the screen-reader table.
export function precise(v) {
	if (!Number.isFinite(v)) return "not computed";
	const a = Math.abs(v);
	const s = a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
	return s.replaceAll("-", "−");
}
