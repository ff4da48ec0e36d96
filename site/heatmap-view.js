// The heatmap view: one of the engine's views (a site, or sites stacked)
// as a heatmap on a canvas, with its caption, how to read it, a tooltip,
// keyboard navigation, a table for screen readers, and its exports.
// Owns: the model shown, the canvas's hover and focus, the redraw
// scheduled for the next frame, and what the screen-reader table holds.
//
// A view module is {name, mount(container, host), update(state),
// exports, model(state)}: app.js mounts it on its element of the page, calls
// update with the page's state whenever that changes (see app.js's
// viewState), and wires the export buttons to exports. The views to come
// (attention patterns, logit lens, …) are modules of the same shape.

import { el, paragraphs } from "./dom.js";
import { METRICS } from "./metrics.js";
import { Heatmap } from "./heatmap.js";
import { heatmapData, describeCell, csvRows, format, precise } from "./heatmap-data.js";
import { csv } from "./export.js";

const state = {
	root: null, // the container: every element is looked up in it
	heat: null, // the Heatmap drawn on the canvas
	model: null, // what it shows (heatmap-data.js), or null
	focus: null, // the cell focused from the keyboard, {r, c}
	frame: 0, // a redraw scheduled for the next frame
	next: null, // the state that redraw shows
	table: { of: null, values: null }, // what the screen-reader table shows
	help: null, // the view whose help is shown
	shown: null, // the name of the view shown (another one: the focus goes)
};

const hooks = { rerunWithProbs: () => {}, openHead: null };

// headOf is the attention head a cell of a heatmap of z is, {l, h}, or null:
// a column of z (patched at every position), or a row of z per position.
function headOf(m, cell) {
	if (!m || !cell || !m.rowOf[cell.r]) return null;
	const { site, r } = m.rowOf[cell.r];
	if (site.columns === "heads") return { l: r, h: cell.c };
	if (site.row_group > 0) return { l: Math.floor(r / site.row_group), h: r % site.row_group };
	return null;
}

// openHead opens the pattern of the head a cell is (host.openHead), if it is one.
function openHead(cell) {
	const head = headOf(state.heat.model, cell);
	if (head && hooks.openHead) hooks.openHead(head.l, head.h);
	return !!head;
}

const $ = (id) => state.root.querySelector(`#${id}`);

export const heatmapView = {
	name: "heatmap",

	// mount binds the view to its elements in container; host.rerunWithProbs()
	// runs the shown texts again with probabilities.
	mount(container, host) {
		state.root = container;
		Object.assign(hooks, host);
		state.heat = new Heatmap($("heatmap"), $("heatmap-rows"), { title: false });
		$("rerun-probs").addEventListener("click", () => hooks.rerunWithProbs());
		bindCanvas();
	},

	// update shows state now; with {soon: true}, at the next frame (rows
	// arrive faster than frames during a sweep).
	update(s, { soon = false } = {}) {
		state.next = s;
		if (!soon) {
			cancelAnimationFrame(state.frame);
			state.frame = 0;
			render(s);
		} else if (!state.frame) {
			state.frame = requestAnimationFrame(() => {
				state.frame = 0;
				render(state.next);
			});
		}
	},

	// The formats the view exports: each a button of the page and what it makes.
	exports: {
		png: { button: "export-png", make: async () => state.model && { blob: await state.heat.png(2), ext: "png" } },
		csv: { button: "export-csv", make: async () => state.model && { blob: new Blob([csv(csvRows(state.model))], { type: "text/csv" }), ext: "csv" } },
	},

	// model is what the heatmap shows for state s (as update takes it), or null.
	model: (s) => build(s),

	// layout is where the drawn heatmap's parts are (heatmap.js's layout), for tests.
	layout: () => (state.heat && state.heat.L) || null,
};

function build(s) {
	return s.baseline && s.view ? heatmapData({ info: s.info, view: s.view, metric: s.metric, baseline: s.baseline, request: s.request, sweepOf: s.sweepOf }) : null;
}

function render(s) {
	const m = build(s);
	state.model = m;
	if (s.view && s.view.name !== state.shown) {
		state.shown = s.view.name;
		state.focus = null;
	}
	showHelp(s.view);
	const problemBox = $("heat-problem");
	// Nothing to show yet: the caption alone, no empty box.
	state.root.querySelector(".heat-wrap").hidden = !m;
	if (!m) {
		$("heat-caption").textContent = "Run an analysis to see its heatmap.";
		$("heat-sub").textContent = "";
		problemBox.hidden = true;
		$("heatmap").hidden = true;
		$("tooltip").hidden = true;
		$("howto-metric").textContent = METRICS[s.metric].reading;
		renderTable(null, s);
		return;
	}
	$("heatmap").hidden = false;
	$("heat-caption").textContent = `Showing: site ${m.short}, metric ${METRICS[m.metric].label}${s.stale ? " — for the texts last run (the inputs have changed since: Run to update)" : ""}`;
	// The formula above the canvas, where it wraps (the exported PNG draws it).
	$("heat-sub").textContent = m.subtitle;
	$("howto-metric").textContent = METRICS[m.metric].reading + baselines(m);
	problemBox.hidden = !m.problem && m.computed > 0;
	$("rerun-probs").hidden = m.problem !== "probs";
	if (m.problem === "probs") $("heat-problem-text").textContent = "The probability difference needs the softmax of every patched run, which this sweep did not compute.";
	else if (m.problem === "flat") $("heat-problem-text").textContent = "The normalized metric is undefined: the clean and corrupted runs give the same logit difference. Choose other targets or another metric.";
	else if (m.computed === 0) $("heat-problem-text").textContent = notYet(m, s);
	if (state.focus && (state.focus.r >= m.rows || state.focus.c >= m.cols)) state.focus = null;
	state.heat.focus = state.focus;
	state.heat.render(m);
	$("heatmap").setAttribute("aria-label", `Heatmap of ${m.short}, ${METRICS[m.metric].label}: ${m.rows} rows by ${m.cols} columns, ${m.computed} of ${m.rows} rows computed. Scale from ${format(-m.range, m.range)} (blue) to ${format(m.range, m.range)} (red).${baselines(m)}`);
	renderTable(m, s);
	refreshTooltip();
}

// notYet says why a view has no row yet: the run in progress computes it,
// or will after it, or nothing has asked for it.
function notYet(m, s) {
	if (!s.running) return "This site is not computed yet for these texts: press Run.";
	const parts = s.view ? s.view.parts : [];
	if (s.computing && parts.some((p) => s.computing.includes(p))) return "Computing: the first rows appear as they finish.";
	return s.queued ? "This site is computed after the current run." : "This site is not computed yet for these texts: press Run once the current run ends.";
}

// baselines says where the unpatched runs sit on the scale (the marks
// beside the colour bar).
function baselines(m) {
	const at = Object.fromEntries((m.marks || []).map((k) => [k.name, precise(k.value)]));
	if (!at.clean || !at.corrupted) return "";
	return ` Unpatched, the clean run gives ${at.clean} and the corrupted run ${at.corrupted} (the marks beside the colour bar): a cell near the clean mark restores the clean answer.`;
}

// showHelp puts the engine's text on how to read the view beside it.
function showHelp(view) {
	if (!view || view === state.help) return;
	state.help = view;
	if (view.help) $("howto-view").replaceChildren(...paragraphs(view.help));
}

// The screen-reader table of the heatmap's values can be large (z per
// position on a long text: some 150 000 cells), so it is not rebuilt with
// every frame of a sweep: only when what it shows changes (other texts,
// view or metric) or, with the same view, once no sweep runs (at the end
// of one, say) and its values differ from the table's.
function sameBits(a, b) {
	if (!a || !b || a.length !== b.length) return false;
	const x = new Uint32Array(a.buffer, a.byteOffset, a.length * 2), y = new Uint32Array(b.buffer, b.byteOffset, b.length * 2);
	for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
	return true;
}

function renderTable(m, s) {
	const of = m ? JSON.stringify([s.key, m.site, m.metric]) : null;
	if (of === state.table.of && (s.running || !m || sameBits(m.values, state.table.values))) return;
	state.table = { of, values: m && m.values };
	const t = $("heat-table");
	if (!m || m.computed === 0) {
		$("heat-table-caption").textContent = m ? `Heatmap values: ${m.short}, ${METRICS[m.metric].label}: not computed yet.` : "Heatmap values";
		t.tHead.replaceChildren();
		t.tBodies[0].replaceChildren();
		return;
	}
	$("heat-table-caption").textContent = `Heatmap values: ${m.short}, ${METRICS[m.metric].label}; rows are ${m.rowAxis}s, columns ${m.colAxis}.`;
	t.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col", text: m.rowAxis }), ...m.colLabels.map((l) => el("th", { scope: "col", text: l }))));
	const rows = [];
	for (let r = 0; r < m.rows; r++) {
		const tr = el("tr", {}, el("th", { scope: "row", text: m.rowLabels[r] }));
		for (let c = 0; c < m.cols; c++) tr.append(el("td", { text: precise(m.values[r * m.cols + c]) }));
		rows.push(tr);
	}
	t.tBodies[0].replaceChildren(...rows);
}

// The tooltip shows a cell's value beside the pointer (x, y: in the
// heatmap box's content, px), kept over the grid so that it never hides
// the colour bar's numbers; tip.cell is the cell it shows.
function showTooltip(cell, x, y) {
	const tip = $("tooltip"), m = state.heat.model, L = state.heat.L;
	if (!cell || !m || cell.r >= m.rows || cell.c >= m.cols) {
		tip.hidden = true;
		tip.cell = null;
		return;
	}
	tip.textContent = describeCell(m, cell) + (hooks.openHead && headOf(m, cell) ? "\nClick (or Enter) to see this head's attention pattern" : "");
	tip.hidden = false;
	tip.cell = { cell, x, y };
	const canvas = $("heatmap"), box = canvas.parentElement;
	const gridLeft = canvas.offsetLeft + L.left, gridRight = gridLeft + L.gridW;
	const right = Math.min(box.scrollLeft + box.clientWidth, gridRight) - tip.offsetWidth - 4;
	const left = Math.max(Math.min(gridLeft, right), Math.min(x + 14, right));
	tip.style.left = `${Math.max(box.scrollLeft + 2, left)}px`;
	tip.style.top = `${y + 14}px`;
}

// refreshTooltip says again what the cell under a resting pointer holds
// once the heatmap changed under it (another metric, a row arrived).
function refreshTooltip() {
	const tip = $("tooltip");
	if (!tip.hidden && tip.cell) showTooltip(tip.cell.cell, tip.cell.x, tip.cell.y);
}

function moveFocus(cell) {
	const heat = state.heat, canvas = $("heatmap");
	state.focus = cell;
	heat.focus = cell;
	heat.render();
	$("heat-live").textContent = describeCell(heat.model, cell).replace("\n", ": ");
	const L = heat.L;
	showTooltip(cell, L.left + cell.c * L.cellW + canvas.offsetLeft, L.top + (cell.r + 1) * L.cellH + canvas.offsetTop - 10);
}

function bindCanvas() {
	const heat = state.heat, canvas = $("heatmap");
	canvas.addEventListener("mousemove", (ev) => {
		const rect = canvas.getBoundingClientRect();
		const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
		const cell = heat.cellAt(x, y);
		if (JSON.stringify(cell) !== JSON.stringify(heat.hover)) {
			heat.hover = cell;
			heat.render();
		}
		showTooltip(cell, x + canvas.offsetLeft, y + canvas.offsetTop);
	});
	// A click on a head opens its pattern; on any other cell a tap (or a
	// click) reads the cell out and keeps it shown.
	canvas.addEventListener("click", (ev) => {
		const rect = canvas.getBoundingClientRect();
		const cell = heat.cellAt(ev.clientX - rect.left, ev.clientY - rect.top);
		if (cell && !openHead(cell)) moveFocus(cell);
	});
	canvas.addEventListener("mouseleave", () => {
		heat.hover = null;
		heat.render();
		$("tooltip").hidden = true;
	});
	canvas.addEventListener("focus", () => {
		if (!heat.model) return;
		moveFocus(state.focus || { r: 0, c: 0 });
	});
	canvas.addEventListener("blur", () => {
		$("tooltip").hidden = true;
		heat.focus = null;
		heat.render();
	});
	canvas.addEventListener("keydown", (ev) => {
		const m = heat.model;
		if (!m) return;
		const f = state.focus || { r: 0, c: 0 };
		if (ev.key === "Enter" && openHead(f)) {
			ev.preventDefault();
			return;
		}
		const moves = {
			ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0],
			Home: [0, -m.cols], End: [0, m.cols], PageUp: [-m.rows, 0], PageDown: [m.rows, 0],
		};
		const d = moves[ev.key];
		if (!d) return;
		ev.preventDefault();
		moveFocus({ r: Math.max(0, Math.min(m.rows - 1, f.r + d[0])), c: Math.max(0, Math.min(m.cols - 1, f.c + d[1])) });
	});
	window.addEventListener("resize", () => heat.render());
	if (window.matchMedia) {
		// Redraw when the window moves to a screen of another pixel ratio.
		const watch = () => window.matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener("change", () => { heat.render(); watch(); }, { once: true });
		watch();
	}
}
