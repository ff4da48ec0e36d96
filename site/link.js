// Link state: what the page's URL carries (texts, targets, view, metric,
// and the design: design.js),
// so that a shared link reproduces the analysis. Owns: the view and the
// metric chosen, and whether the link asked for a run that has not
// happened yet. The texts live in their fields (texts.js); the link is
// written from them.

import { readState, writeState } from "./urlstate.js";
import { METRICS } from "./metrics.js";
import * as design from "./design.js";

const DEFAULT_METRIC = "logit_diff";

const state = {
	view: null, // the view's name; null: the engine's first view, once a model says which
	metric: DEFAULT_METRIC,
	method: null, // the attribution-patching view's method (exact, estimate, both), when chosen
	look: "heatmap", // the view shown: the heatmap, or one inside the runs (app.js's LOOKS)
	autoRun: false, // the link carried texts: run them once a model is loaded
	timer: 0,
};

// readLink reads the URL: the texts it carries (any it lacks are null) and
// the view and metric. A view name is checked against the engine's views
// once a model is loaded (settleView).
export function readLink() {
	const s = readState(location, null, METRICS);
	state.view = s.site || null;
	state.metric = s.metric || DEFAULT_METRIC;
	state.look = s.view || "heatmap";
	state.method = s.method || null;
	state.autoRun = ["clean", "corrupted", "clean_target", "corrupted_target", "pairs"].some((f) => f in s);
	design.fromLink(s);
	return s;
}

export const view = () => state.view;
export const metric = () => state.metric;

export function setView(name) {
	state.view = name;
}

export const look = () => state.look;

export const method = () => state.method;
export function setMethod(m) {
	state.method = m;
}

export function setLook(name) {
	state.look = name;
}

// settleLook keeps the view shown if the page has it, else the heatmap.
export function settleLook(names) {
	if (!names.includes(state.look)) state.look = "heatmap";
	return state.look;
}

export function setMetric(name) {
	state.metric = name;
}

// settleView keeps the chosen view if the engine has it, else takes the
// engine's first. Returns the view's name.
export function settleView(names) {
	if (!names.includes(state.view)) state.view = names[0] ?? null;
	return state.view;
}

// takeAutoRun says, once, whether the link asked for a run.
export function takeAutoRun() {
	const r = state.autoRun;
	state.autoRun = false;
	return r;
}

// writeLink puts the analysis in the URL now; writeLinkSoon after a pause
// in typing. Returns whether every text went in (a very long one does not).
export function writeLink(req) {
	clearTimeout(state.timer);
	return writeState({ ...req, site: state.view ?? "", metric: state.metric, view: state.look === "heatmap" ? "" : state.look, method: state.method, ...design.linkFields() });
}

export function writeLinkSoon(req) {
	clearTimeout(state.timer);
	state.timer = setTimeout(() => writeLink(req), 300);
}
