// What the views that look inside a run share: their panel (caption, the
// run chosen, how to read it, a tooltip, a live region, the screen-reader
// table, the export buttons), canvases drawn at the device pixel ratio,
// PNG export of a drawing, and words for tokens and values. Owns no state.

import { el, visible, sized } from "../dom.js";
import { save, slug } from "../export.js";
import { precise } from "../heatmap-data.js";
import * as inspect from "../inspect-data.js";

export { sized };

export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";

// panel builds a view's elements in container: opts {name, title, howto
// (paragraphs), keys (the keyboard's help), controls (extra elements),
// onRun (the run chosen changed), onResize (its box's width changed: draw
// again)}. Returns the elements by role.
export function panel(container, opts) {
	const id = (s) => `${opts.name}-${s}`;
	const runSelect = el("select", { id: id("run") }, ...inspect.RUNS.map((r) => el("option", { value: r, text: `${r} run` })));
	runSelect.addEventListener("change", () => {
		inspect.setRun(runSelect.value);
		opts.onRun();
	});
	const p = {
		root: el("section", { class: "look", id: `look-${opts.name}`, "aria-labelledby": id("h") }),
		caption: el("p", { class: "look-caption", id: id("caption") }),
		problem: el("p", { class: "problem", hidden: "" }),
		controls: el("div", { class: "look-controls" }, el("div", { class: "field" }, el("label", { for: id("run"), text: "Run" }), runSelect), ...(opts.controls || [])),
		main: el("div", { class: "look-main canvas-box" }),
		tip: el("div", { class: "tooltip", hidden: "" }),
		live: el("p", { class: "visually-hidden", "aria-live": "polite" }),
		table: el("table", {}, el("caption"), el("thead"), el("tbody")),
		runSelect,
		buttons: {},
	};
	p.main.append(p.tip);
	const howto = el("aside", { class: "howto", "aria-labelledby": id("howto-h") }, el("h3", { id: id("howto-h"), text: "How to read this" }),
		...opts.howto.map((t) => el("p", { text: t })), el("p", { class: "hint", id: id("keys"), text: opts.keys }));
	const exports = el("div", { class: "exports", role: "group", "aria-label": `Export the ${opts.title.toLowerCase()}` });
	for (const [fmt, text] of [["png", "PNG"], ["csv", "CSV"], ["json", "JSON"]]) {
		p.buttons[fmt] = el("button", { type: "button", id: id(`export-${fmt}`), text: `${opts.title} ${text}`, disabled: "" });
		exports.append(p.buttons[fmt]);
	}
	p.root.append(el("h3", { id: id("h"), class: "look-h", text: opts.title }), p.caption, p.controls, p.problem,
		el("div", { class: "heat-wrap" }, p.main, howto), p.live, el("div", { class: "visually-hidden" }, p.table), exports);
	p.root.hidden = true;
	container.append(p.root);
	watchWidth(p, opts.onResize);
	return p;
}

// A view's drawings are as wide as its main box, but reading a box's width
// while a view renders makes the browser lay the page out there and then,
// again for every view drawn (most of a view's time on a slow machine).
// So boxWidth(p) is the width a ResizeObserver last saw the box at, after the
// browser's own layout; a box not seen yet takes the last width any view's
// box had (they are alike), and only the first view drawn measures. When
// the box then turns out wider or narrower, onResize draws it again.
let lastWidth = 0;

export function boxWidth(p) {
	if (!p.observed) return p.main.clientWidth;
	if (!p.width) p.width = lastWidth || (lastWidth = p.main.clientWidth);
	p.drawn = true;
	return p.width;
}

function watchWidth(p, onResize) {
	if (typeof ResizeObserver !== "function") return;
	p.observed = true;
	new ResizeObserver(() => {
		const w = p.main.clientWidth; // laid out already: nothing to force
		if (!w || w === p.width) return; // a hidden box is 0 wide
		p.width = lastWidth = w;
		if (p.drawn && onResize) onResize();
	}).observe(p.main);
}

// bindExports makes the panel's buttons save what formats[fmt]() makes
// ({blob, ext} or null), named after the texts of state() and the view.
export function bindExports(p, name, formats, state) {
	for (const [fmt, make] of Object.entries(formats)) {
		p.buttons[fmt].addEventListener("click", async () => {
			const out = await make();
			const s = state();
			if (out && s && s.request) save(out.blob, `patchlab-${slug(s.request.clean)}-${name}-${inspect.run()}.${out.ext}`);
		});
	}
}

export function enableExports(p, on) {
	for (const b of Object.values(p.buttons)) b.disabled = !on;
}

// status says what a view is waiting for, or null when its entry is there.
export function status(s, e) {
	if (!s.baseline || !e) return "Run an analysis to look inside its two runs.";
	if (e.error) return `Could not look inside the ${e.run} run: ${e.error.message}`;
	if (!e.views) return `Looking inside the ${e.run} run…`;
	return null;
}

// entry is the shown run's entry for state s (asked for if needed).
export function entry(s) {
	if (!s.baseline || !s.key || !s.request) return null;
	return inspect.get(s.key, s.request, inspect.run());
}

export function tokensOf(s, run) {
	return run === "clean" ? s.baseline.clean_tokens : s.baseline.corrupted_tokens;
}

// label is a token as shown: its position and its text, spaces visible.
export const label = (t, i) => `${i} ${visible(t.text)}`;
export const quoted = (text) => `‘${visible(text)}’`;


// png draws draw(ctx) on a w × h canvas at scale× and resolves with its PNG.
export function png(w, h, draw, scale = 2) {
	const c = document.createElement("canvas");
	c.width = Math.round(w * scale);
	c.height = Math.round(h * scale);
	const ctx = c.getContext("2d");
	ctx.scale(scale, scale);
	ctx.fillStyle = "#fff";
	ctx.fillRect(0, 0, w, h);
	draw(ctx);
	return new Promise((resolve) => c.toBlob(resolve, "image/png"));
}

// tip shows text at (x, y) of the panel's main box, or hides it (text null).
export function tip(p, text, x, y) {
	if (!text) {
		p.tip.hidden = true;
		return;
	}
	p.tip.textContent = text;
	p.tip.hidden = false;
	p.tip.style.left = `${Math.max(0, Math.min(x + 14, p.main.clientWidth + p.main.scrollLeft - p.tip.offsetWidth - 4))}px`;
	p.tip.style.top = `${y + 14}px`;
}

// fillTable puts rows (arrays of cells; the first a row header) under a
// header in the panel's screen-reader table.
export function fillTable(p, caption, header, rows) {
	const t = p.table;
	t.caption.textContent = caption;
	t.tHead.replaceChildren(header.length ? el("tr", {}, ...header.map((h) => el("th", { scope: "col", text: h }))) : "");
	t.tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, el("th", { scope: "row", text: String(r[0]) }), ...r.slice(1).map((v) => el("td", { text: typeof v === "number" ? precise(v) : String(v) })))));
}

// arrows moves a {r, c} focus by an arrow (Home, End, Page Up, Page Down)
// key within rows × cols; null for any other key.
export function arrows(key, f, rows, cols) {
	const moves = {
		ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0],
		Home: [0, -cols], End: [0, cols], PageUp: [-rows, 0], PageDown: [rows, 0],
	};
	const d = moves[key];
	if (!d) return null;
	return { r: Math.max(0, Math.min(rows - 1, f.r + d[0])), c: Math.max(0, Math.min(cols - 1, f.c + d[1])) };
}

// blob of text.
export const textBlob = (text, type) => new Blob([text], { type });
