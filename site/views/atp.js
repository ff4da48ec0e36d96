// The attribution-patching view: every cell of the site shown estimated at
// once from one backward pass of the corrupted run (the engine's atp call),
// beside the exact sweep — method exact, estimate or both. "Both" draws the
// two heatmaps side by side and a scatter plot of estimate against exact
// change for every cell computed; "check the top k exactly" sweeps only the
// rows holding the k cells the estimate ranks highest; a table lists the
// top MLP neurons with their estimate and, on request, their exact value.
// Owns: the estimates of the texts last run, the method chosen, the cells
// hovered and focused, what is drawn, the panel's elements.
//
// Why one file of ~500 lines: its three drawings (two heatmaps and the
// scatter) share one hover, focus and export state; split, each part would
// need the others' internals.

import { el } from "../dom.js";
import { save, slug, csv } from "../export.js";
import { Heatmap } from "../heatmap.js";
import { heatmapData, niceMax, precise, format } from "../heatmap-data.js";
import { EngineError } from "../errors.js";
import { FONT, panel, boxWidth, sized, png, tip, fillTable, arrows, textBlob } from "./common.js";

export const METHODS = { exact: "Exact (patch every cell)", estimate: "Estimate (attribution patching)", both: "Both, side by side" };
const TOP_NEURONS = 20;

const state = {
	p: null,
	method: "both",
	est: null, // {key, data (the engine's ATPEstimates), error, ms}
	neurons: null, // {key, list (with exact), error, busy}
	checked: null, // {key, site view name, cells: [{site, row, col, estimate}]}
	models: null, // {exact, estimate} heatmap models of the view shown
	points: null, // scatter points [{r, c, x (exact), y (estimate), label}]
	S: null, // the scatter's layout
	focusPt: null,
	last: null,
	hooks: { changed: () => {}, pool: () => null, runExact: () => {}, method: () => null, setMethod: () => {} },
};

export const atpView = {
	name: "atp",
	label: "Attribution patching (estimate vs exact)",

	mount(container, host) {
		Object.assign(state.hooks, host);
		const method = el("select", { id: "atp-method" }, ...Object.entries(METHODS).map(([k, v]) => el("option", { value: k, text: v })));
		const k = el("input", { id: "atp-k", type: "number", min: "1", max: "200", value: "5" });
		const check = el("button", { type: "button", id: "atp-check", text: "Check the top k exactly" });
		const exactNeurons = el("button", { type: "button", id: "atp-neurons-exact", text: "Patch these neurons exactly" });
		state.p = panel(container, {
			name: "atp", title: "Attribution patching",
			onRun: () => state.hooks.changed(),
			onResize: () => state.last && !state.p.root.hidden && render(state.last),
			controls: [
				el("div", { class: "field" }, el("label", { for: "atp-method", text: "Method" }), method),
				el("div", { class: "field" }, el("label", { for: "atp-k", text: "k" }), k),
				el("div", { class: "field" }, check),
			],
			howto: [
				"Patching one cell exactly means running the model again. Attribution patching estimates every cell at once: it takes the gradient of the metric on the corrupted run — one backward pass — and multiplies it by how much the patch changes the activation, (clean − corrupted) · ∂metric/∂activation. It is a first-order (straight-line) guess of each cell's change.",
				"Where it is good: small patches, where the model is nearly linear — single heads, MLP outputs, neurons. Where it fails: a patch that moves an attention softmax out of saturation (a head that looked at one token now looks at another) and large whole-vector patches such as the residual stream at the changed token; there the line is far from the curve. The scatter plot shows it: points on the diagonal are cells the estimate got right.",
				"Only the logit difference is estimated; the normalized metric is the same estimate divided by (clean − corrupted). Use “check the top k exactly” to confirm the cells the estimate ranks highest, as researchers do when a full sweep is too costly.",
			],
			keys: "Keyboard: focus a heatmap and move with the arrow keys, or the scatter plot and step through its points with the arrow keys; each value is read out.",
		});
		const p = state.p;
		p.controls.firstChild.hidden = true; // no clean/corrupted run to choose here
		p.method = method;
		p.k = k;
		p.note = el("p", { class: "hint", id: "atp-note" });
		p.heatEst = el("canvas", { id: "atp-heat-estimate", tabindex: "0", role: "application", "aria-roledescription": "heatmap", "aria-describedby": "atp-keys" });
		p.heatExact = el("canvas", { id: "atp-heat-exact", tabindex: "0", role: "application", "aria-roledescription": "heatmap", "aria-describedby": "atp-keys" });
		p.boxEst = el("div", { class: "atp-heat" }, p.heatEst);
		p.boxExact = el("div", { class: "atp-heat" }, p.heatExact);
		p.pair = el("div", { class: "atp-pair" }, p.boxEst, p.boxExact);
		p.scatter = el("canvas", { id: "atp-scatter", tabindex: "0", role: "application", "aria-roledescription": "scatter plot", "aria-describedby": "atp-keys" });
		p.summary = el("p", { id: "atp-summary", class: "dla-sum" });
		p.worst = el("ol", { id: "atp-worst" });
		p.checkedList = el("ol", { id: "atp-checked" });
		p.neuronTable = el("table", { id: "atp-neurons", class: "tops" }, el("caption", { text: "Top MLP neurons (after GELU) by estimated change of the logit difference" }),
			el("thead", {}, el("tr", {}, ...["layer", "position", "neuron", "estimate", "exact"].map((h) => el("th", { scope: "col", text: h })))), el("tbody"));
		p.scatterBox = el("div", { class: "atp-scatter" }, p.scatter, p.summary, el("h4", { text: "Worst cells (largest |estimate − exact|)" }), p.worst);
		p.main.prepend(p.note, p.pair, p.scatterBox, el("h4", { text: "Checked exactly" }), p.checkedList, p.neuronTable, exactNeurons);
		state.heat = { est: new Heatmap(p.heatEst), exact: new Heatmap(p.heatExact) };
		state.method = METHODS[state.hooks.method()] ? state.hooks.method() : "both";
		method.value = state.method;
		method.addEventListener("change", () => {
			state.method = method.value;
			state.hooks.setMethod(state.method);
			state.hooks.changed();
		});
		check.addEventListener("click", () => checkTop());
		exactNeurons.addEventListener("click", () => patchNeurons());
		bindHeat(state.heat.est, p.heatEst, "estimate");
		bindHeat(state.heat.exact, p.heatExact, "exact");
		bindScatter();
		for (const [fmt, make] of Object.entries(formats)) {
			p.buttons[fmt].addEventListener("click", async () => {
				const out = await make(), s = state.last;
				if (out && s && s.request) save(out.blob, `patchlab-${slug(s.request.clean)}-atp-${s.view ? s.view.name : "site"}-${state.method}.${out.ext}`);
			});
		}
	},

	update(s) {
		state.last = s;
		render(s);
	},

	// estimateOnly: the exact sweep is not wanted (choosing a site does not run it).
	estimateOnly: () => state.method === "estimate",

	show(on) {
		state.p.root.hidden = !on;
		if (on && state.last) render(state.last);
	},

	exports: null,
	// model is what the view shows, for tests: the engine's estimates, the
	// neurons, the scatter's points and summary.
	model: () => state.est && state.est.data && {
		method: state.method, fields: state.est.data.fields, sites: state.est.data.sites, neurons: state.neurons && state.neurons.list,
		estimateMs: state.est.ms, engineSeconds: state.est.data.seconds,
		points: state.points ? state.points.length : 0, corr: state.corr, scatterDrawn: !!state.S && !state.p.scatter.hidden,
		checked: state.checked && state.checked.cells,
	},
};

// estimates is the entry of the texts of state s, asked for once.
function estimates(s) {
	const pool = state.hooks.pool();
	if (!s.baseline || !s.key || !pool) return null;
	if (state.est && state.est.key === s.key) return state.est;
	const e = { key: s.key, data: null, error: null, ms: 0 };
	state.est = e;
	state.neurons = null;
	const t0 = performance.now();
	pool.atp(s.request, TOP_NEURONS).then((d) => {
		e.data = d;
		e.ms = performance.now() - t0;
		state.hooks.changed();
	}, (err) => {
		e.error = EngineError.from(err);
		if (state.est === e) state.est = null;
		state.hooks.changed();
	});
	return e;
}

// The metric the estimate is shown in: the logit difference, or normalized.
function shownMetric(s) {
	return s.metric === "normalized" ? "normalized" : "logit_diff";
}

// base and scale turn an estimated change of the logit difference into the
// metric's value in the patched run, as the exact heatmap shows it.
function baseScale(s, metric) {
	const b = s.baseline, dc = b.corrupted_base[1] - b.corrupted_base[0], dk = b.clean_base[1] - b.clean_base[0];
	return metric === "normalized" ? { base: 0, scale: 1 / (dk - dc) } : { base: dc, scale: 1 };
}

function render(s) {
	const p = state.p;
	const e = s.baseline && s.view ? estimates(s) : null;
	let why = null;
	if (!s.baseline || !s.view) why = "Run an analysis: the estimate is computed from its corrupted run.";
	else if (e && e.error) why = `Could not estimate: ${e.error.message}`;
	else if (!e || !e.data) why = "Estimating every cell (one backward pass)…";
	for (const x of [p.pair, p.scatterBox, p.neuronTable]) x.hidden = !!why;
	for (const b of Object.values(p.buttons)) b.disabled = !!why;
	if (why) {
		p.caption.textContent = why;
		p.note.textContent = "";
		state.models = state.points = null;
		return;
	}
	const metric = shownMetric(s);
	const { base, scale } = baseScale(s, metric);
	const exact = heatmapData({ ...s, metric });
	const estimate = { ...exact, values: new Float64Array(exact.values.length), title: `${exact.short} · estimate`, subtitle: `attribution patching: corrupted run + (clean − corrupted) · gradient` };
	exact.title = `${exact.short} · exact`;
	for (let r = 0; r < exact.rows; r++) {
		const { site, r: sr } = exact.rowOf[r];
		const v = e.data.sites[site.name];
		for (let c = 0; c < exact.cols; c++) estimate.values[r * exact.cols + c] = base + v.values[sr * v.cols + c] * scale;
	}
	let mx = 0;
	for (const m of [exact, estimate]) for (const v of m.values) if (Number.isFinite(v)) mx = Math.max(mx, Math.abs(v));
	exact.range = estimate.range = niceMax(mx);
	state.models = { exact, estimate, base };
	const notes = [];
	if (s.metric !== metric) notes.push("The estimate is available for the logit difference only: both heatmaps show the logit difference.");
	if (exact.computed < exact.rows) notes.push(exact.computed ? `The exact sweep has ${exact.computed} of ${exact.rows} rows: Run computes the rest.` : "The exact sweep of this site has not run: press Run, or check the top k exactly.");
	p.note.textContent = notes.join(" ");
	p.caption.textContent = `Showing: ${exact.short}, ${METHODS[state.method].toLowerCase()} — estimated in ${Math.round(e.ms)} ms${s.stale ? " (for the texts last run: the inputs have changed since)" : ""}`;
	p.method.value = state.method;
	p.boxEst.hidden = state.method === "exact";
	p.boxExact.hidden = state.method === "estimate";
	p.scatterBox.hidden = state.method !== "both";
	const width = state.method === "both" ? Math.max(320, Math.floor((boxWidth(p) - 12) / 2)) : Math.max(320, boxWidth(p));
	for (const box of [p.boxEst, p.boxExact]) box.style.width = `${width}px`;
	if (!p.root.hidden) {
		if (!p.boxEst.hidden) state.heat.est.render(estimate);
		if (!p.boxExact.hidden) state.heat.exact.render(exact);
	}
	p.heatEst.setAttribute("aria-label", `Estimated ${exact.short}, ${exact.rows} rows by ${exact.cols} columns.`);
	p.heatExact.setAttribute("aria-label", `Exact ${exact.short}, ${exact.computed} of ${exact.rows} rows computed.`);
	scatterOf(exact, estimate, base);
	if (!p.scatterBox.hidden && !p.root.hidden) drawScatter();
	renderChecked(s);
	renderNeurons();
	const rows = [];
	for (let r = 0; r < exact.rows; r++) for (let c = 0; c < exact.cols; c++) rows.push([`${exact.rowLabels[r]} · ${exact.colLabels[c]}`, estimate.values[r * exact.cols + c], exact.values[r * exact.cols + c]]);
	fillTable(p, `Attribution patching of ${exact.short}: every cell's estimate and exact value (${metric}).`, ["cell", "estimate", "exact"], rows);
}

// scatterOf pairs estimate and exact change for every cell computed.
function scatterOf(exact, estimate, base) {
	const pts = [];
	for (let r = 0; r < exact.rows; r++) {
		for (let c = 0; c < exact.cols; c++) {
			const i = r * exact.cols + c, x = exact.values[i];
			if (!Number.isFinite(x)) continue;
			pts.push({ r, c, x: x - base, y: estimate.values[i] - base, label: `${exact.rowLabels[r]}, ${exact.colLabels[c]}` });
		}
	}
	state.points = pts;
	state.corr = pearson(pts);
	const worst = pts.slice().sort((a, b) => Math.abs(b.y - b.x) - Math.abs(a.y - a.x)).slice(0, 5);
	state.worst = worst;
	const p = state.p;
	p.summary.textContent = pts.length ? `Correlation of estimate and exact change: ${precise(state.corr)} over ${pts.length} cells.` : "No exact cells yet: Run the sweep, or check the top k exactly.";
	p.worst.replaceChildren(...worst.map((q) => el("li", { text: `${q.label}: estimate ${precise(q.y)}, exact ${precise(q.x)}` })));
}

function pearson(pts) {
	const n = pts.length;
	if (n < 2) return NaN;
	let mx = 0, my = 0;
	for (const q of pts) { mx += q.x / n; my += q.y / n; }
	let sxy = 0, sxx = 0, syy = 0;
	for (const q of pts) { sxy += (q.x - mx) * (q.y - my); sxx += (q.x - mx) ** 2; syy += (q.y - my) ** 2; }
	return sxx && syy ? sxy / Math.sqrt(sxx * syy) : NaN;
}

// ---------------------------------------------------------------- scatter

function scatterLayout(pts, width) {
	const size = Math.max(260, Math.min(480, width));
	let lo = 0, hi = 0;
	for (const q of pts) { lo = Math.min(lo, q.x, q.y); hi = Math.max(hi, q.x, q.y); }
	const pad = (hi - lo) * 0.06 || 1;
	lo -= pad; hi += pad;
	const left = 56, top = 34, plot = size - left - 16;
	return { width: size, height: top + plot + 44, left, top, plot, lo, hi, x: (v) => left + ((v - lo) / (hi - lo)) * plot, y: (v) => top + plot - ((v - lo) / (hi - lo)) * plot };
}

function drawScatterOn(ctx, S, pts, focus) {
	ctx.fillStyle = "#fff";
	ctx.fillRect(0, 0, S.width, S.height);
	ctx.fillStyle = "#111";
	ctx.font = `600 14px ${FONT}`;
	ctx.textAlign = "left";
	ctx.textBaseline = "alphabetic";
	ctx.fillText(`Estimate vs exact · r = ${precise(state.corr)}`, 6, 18);
	ctx.strokeStyle = "#999";
	ctx.lineWidth = 1;
	ctx.strokeRect(S.left + 0.5, S.top + 0.5, S.plot, S.plot);
	// Axes at 0 and the diagonal, estimate = exact.
	ctx.strokeStyle = "#ddd";
	ctx.beginPath();
	ctx.moveTo(S.x(0), S.top); ctx.lineTo(S.x(0), S.top + S.plot);
	ctx.moveTo(S.left, S.y(0)); ctx.lineTo(S.left + S.plot, S.y(0));
	ctx.stroke();
	ctx.strokeStyle = "#666";
	ctx.setLineDash([5, 4]);
	ctx.beginPath();
	ctx.moveTo(S.x(S.lo), S.y(S.lo)); ctx.lineTo(S.x(S.hi), S.y(S.hi));
	ctx.stroke();
	ctx.setLineDash([]);
	ctx.fillStyle = "rgba(33,102,172,0.75)";
	for (const q of pts) {
		ctx.beginPath();
		ctx.arc(S.x(q.x), S.y(q.y), 3, 0, 2 * Math.PI);
		ctx.fill();
	}
	ctx.strokeStyle = "#b2182b";
	ctx.lineWidth = 1.5;
	ctx.font = `11px ${FONT}`;
	ctx.fillStyle = "#222";
	for (const q of state.worst || []) {
		ctx.beginPath();
		ctx.arc(S.x(q.x), S.y(q.y), 6, 0, 2 * Math.PI);
		ctx.stroke();
		const right = S.x(q.x) > S.left + S.plot * 0.6;
		ctx.textAlign = right ? "right" : "left";
		ctx.fillText(q.label, S.x(q.x) + (right ? -9 : 9), S.y(q.y) + 4);
	}
	if (focus !== null && pts[focus]) {
		const q = pts[focus];
		ctx.strokeStyle = "#000";
		ctx.lineWidth = 2;
		ctx.strokeRect(S.x(q.x) - 7, S.y(q.y) - 7, 14, 14);
	}
	// Ticks and axis titles.
	ctx.fillStyle = "#333";
	ctx.font = `11px ${FONT}`;
	const step = niceMax((S.hi - S.lo) / 5);
	for (let v = Math.ceil(S.lo / step) * step; v <= S.hi; v += step) {
		ctx.textAlign = "center";
		ctx.textBaseline = "top";
		ctx.fillText(format(v), S.x(v), S.top + S.plot + 4);
		ctx.textAlign = "right";
		ctx.textBaseline = "middle";
		ctx.fillText(format(v), S.left - 4, S.y(v));
	}
	ctx.textAlign = "center";
	ctx.textBaseline = "alphabetic";
	ctx.fillText("exact change (patched − corrupted)", S.left + S.plot / 2, S.top + S.plot + 34);
	ctx.save();
	ctx.translate(14, S.top + S.plot / 2);
	ctx.rotate(-Math.PI / 2);
	ctx.fillText("estimated change", 0, 0);
	ctx.restore();
}

function drawScatter() {
	const p = state.p, pts = state.points;
	if (!pts) return;
	state.S = scatterLayout(pts, boxWidth(p) - 20);
	const ctx = sized(p.scatter, state.S.width, state.S.height);
	drawScatterOn(ctx, state.S, pts, state.focusPt);
	p.scatter.setAttribute("aria-label", `Scatter plot of ${pts.length} cells, estimate against exact change, correlation ${precise(state.corr)}.`);
}

function describePoint(q) {
	return `${q.label}\nestimate ${precise(q.y)}, exact ${precise(q.x)}`;
}

function bindScatter() {
	const p = state.p;
	p.scatter.addEventListener("mousemove", (ev) => {
		if (!state.points || !state.S) return;
		const rect = p.scatter.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top;
		let best = null, bd = 100;
		for (const q of state.points) {
			const d = (state.S.x(q.x) - x) ** 2 + (state.S.y(q.y) - y) ** 2;
			if (d < bd) { bd = d; best = q; }
		}
		tip(p, best && describePoint(best), x + p.scatter.offsetLeft, y + p.scatter.offsetTop);
	});
	p.scatter.addEventListener("mouseleave", () => tip(p, null));
	p.scatter.addEventListener("keydown", (ev) => {
		const n = state.points ? state.points.length : 0;
		if (!n) return;
		const i = state.focusPt ?? -1;
		const next = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: n - 1 }[ev.key];
		if (next === undefined) return;
		ev.preventDefault();
		state.focusPt = Math.max(0, Math.min(n - 1, next));
		drawScatter();
		const q = state.points[state.focusPt];
		p.live.textContent = describePoint(q).replace("\n", ": ");
		tip(p, describePoint(q), state.S.x(q.x) + p.scatter.offsetLeft, state.S.y(q.y) + p.scatter.offsetTop);
	});
	p.scatter.addEventListener("blur", () => { tip(p, null); state.focusPt = null; drawScatter(); });
	window.addEventListener("resize", () => { if (!p.root.hidden && state.last) render(state.last); });
}

// ---------------------------------------------------------------- heatmaps

function describeCell(which, cell) {
	const m = state.models && state.models[which];
	if (!m) return null;
	const v = m.values[cell.r * m.cols + cell.c];
	const other = state.models[which === "exact" ? "estimate" : "exact"].values[cell.r * m.cols + cell.c];
	return `${m.rowAxis} ${m.rowLabels[cell.r]} · ${m.colAxis} ${m.colLabels[cell.c]}\n${which}: ${precise(v)} (${which === "exact" ? "estimate" : "exact"}: ${precise(other)})`;
}

function bindHeat(h, canvas, which) {
	const p = state.p;
	canvas.addEventListener("mousemove", (ev) => {
		const rect = canvas.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top;
		const cell = h.cellAt(x, y);
		if (JSON.stringify(cell) !== JSON.stringify(h.hover)) { h.hover = cell; h.render(); }
		tip(p, cell && describeCell(which, cell), x + canvas.offsetLeft + canvas.parentElement.offsetLeft, y + canvas.offsetTop + canvas.parentElement.offsetTop);
	});
	canvas.addEventListener("mouseleave", () => { h.hover = null; h.render(); tip(p, null); });
	canvas.addEventListener("keydown", (ev) => {
		const m = h.model;
		if (!m) return;
		const next = arrows(ev.key, h.focus || { r: 0, c: 0 }, m.rows, m.cols);
		if (!next) return;
		ev.preventDefault();
		h.focus = next;
		h.render();
		p.live.textContent = describeCell(which, next).replace("\n", ": ");
	});
	canvas.addEventListener("focus", () => { if (h.model) { h.focus = h.focus || { r: 0, c: 0 }; h.render(); p.live.textContent = describeCell(which, h.focus).replace("\n", ": "); } });
	canvas.addEventListener("blur", () => { h.focus = null; h.render(); tip(p, null); });
}

// ---------------------------------------------------------------- top k, neurons

// checkTop asks the engine for each part's top k cells, keeps the k of
// largest |estimate| over the view, and sweeps exactly the rows holding them.
async function checkTop() {
	const s = state.last, pool = state.hooks.pool();
	if (!s || !s.baseline || !s.view || !pool) return;
	const k = Math.max(1, Math.min(200, Math.floor(Number(state.p.k.value) || 5)));
	try {
		const tops = await Promise.all(s.view.parts.map((site) => pool.atpTop(s.request, site, k)));
		const cells = tops.flatMap((t) => t.cells.map((c) => ({ site: t.site, ...c }))).sort((a, b) => Math.abs(b.estimate) - Math.abs(a.estimate)).slice(0, k);
		const rows = {};
		for (const c of cells) (rows[c.site] ||= []).includes(c.row) || rows[c.site].push(c.row);
		state.checked = { key: s.key, view: s.view.name, cells };
		state.hooks.runExact({ sites: s.view.parts, rows });
	} catch (err) {
		state.p.note.textContent = `Could not rank the cells: ${err.message}`;
	}
	state.hooks.changed();
}

function renderChecked(s) {
	const p = state.p, ch = state.checked;
	if (!ch || ch.key !== s.key || ch.view !== s.view.name) {
		p.checkedList.replaceChildren(el("li", { text: "None yet: “Check the top k exactly” sweeps only the rows holding the k cells the estimate ranks highest." }));
		return;
	}
	const m = state.models, base = m.base;
	p.checkedList.replaceChildren(...ch.cells.map((c) => {
		const r = m.exact.rowOf.findIndex((x) => x.site.name === c.site && x.r === c.row);
		const ex = m.exact.values[r * m.exact.cols + c.col], est = m.estimate.values[r * m.exact.cols + c.col];
		return el("li", { text: `${m.exact.rowLabels[r]}, ${m.exact.colLabels[c.col]}: estimate ${precise(est - base)}, exact ${Number.isFinite(ex) ? precise(ex - base) : "computing…"}` });
	}));
}

async function patchNeurons() {
	const s = state.last, pool = state.hooks.pool();
	if (!s || !s.baseline || !pool) return;
	const n = { key: s.key, list: null, error: null, busy: true };
	state.neurons = n;
	state.hooks.changed();
	try {
		n.list = await pool.atpNeurons(s.request, TOP_NEURONS);
	} catch (err) {
		n.error = err;
	}
	n.busy = false;
	state.hooks.changed();
}

function renderNeurons() {
	const e = state.est, n = state.neurons && state.neurons.key === e.key ? state.neurons : null;
	const list = (n && n.list) || e.data.neurons;
	state.p.neuronTable.tBodies[0].replaceChildren(...list.map((x) => el("tr", {}, ...[x.layer, x.position, x.neuron].map((v) => el("td", { text: String(v) })),
		el("td", { text: precise(x.estimate) }), el("td", { text: x.exact === undefined ? (n && n.busy ? "computing…" : "—") : precise(x.exact) }))));
	if (n && n.error) state.p.note.textContent = `Could not patch the neurons: ${n.error.message}`;
}

// ---------------------------------------------------------------- exports

const formats = {
	png: async () => {
		const m = state.models;
		if (!m) return null;
		const ctx = document.createElement("canvas").getContext("2d");
		const { layout, draw } = await import("../heatmap.js");
		const L = layout(ctx, m.exact, 640), S = scatterLayout(state.points, 480);
		const w = Math.max(2 * L.width, S.width), h = L.height + S.height;
		return {
			blob: await png(w, h, (c) => {
				draw(c, m.estimate, L, { export: true });
				c.save(); c.translate(L.width, 0); draw(c, m.exact, L, { export: true }); c.restore();
				c.translate(0, L.height);
				drawScatterOn(c, S, state.points, null);
			}), ext: "png",
		};
	},
	csv: async () => {
		const m = state.models;
		if (!m) return null;
		const rows = [["row", "column", "estimate", "exact", "estimated_change", "exact_change"]];
		for (let r = 0; r < m.exact.rows; r++) for (let c = 0; c < m.exact.cols; c++) {
			const i = r * m.exact.cols + c;
			rows.push([m.exact.rowLabels[r], m.exact.colNames[c], m.estimate.values[i], m.exact.values[i], m.estimate.values[i] - m.base, m.exact.values[i] - m.base]);
		}
		return { blob: textBlob(csv(rows), "text/csv"), ext: "csv" };
	},
	json: async () => {
		const e = state.est;
		if (!e || !e.data) return null;
		const n = state.neurons && state.neurons.key === e.key && state.neurons.list;
		return { blob: textBlob(JSON.stringify({ metric: "logit_diff", ...e.data.fields, atp_neurons: n || e.data.neurons, correlation: state.corr, worst: state.worst }, null, 1), "application/json"), ext: "json" };
	},
};
atpView.exports = formats;
