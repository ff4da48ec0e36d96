// What the page computes itself: the sites a heatmap can show, the metrics
// (every metric is a function of the cells a sweep returns, so switching
// metric never re-runs the model), and the cell store.

// A cell is three numbers: the clean target's logit and the corrupted
// target's logit at the last position of the patched corrupted run, and the
// log-sum-exp of all logits (NaN unless the sweep computed probabilities).

export const METRICS = {
	logit_diff: {
		label: "Logit difference",
		short: "logit diff",
		formula: (t) => `logit(${t.corrupted}) − logit(${t.clean})`,
		reading: "0 means the two targets are equally likely; negative: the patch pushed the prediction towards the clean target; positive: towards the corrupted one. Unpatched, the corrupted run sits at its own baseline.",
	},
	normalized: {
		label: "Normalized logit difference",
		short: "normalized",
		formula: () => "(patched − corrupted) / (clean − corrupted) of the logit difference",
		reading: "0 is the corrupted run's baseline, 1 means the patch fully restores the clean run's logit difference. Not clamped: values beyond 1 or below 0 overshoot.",
	},
	clean_target_delta: {
		label: "Clean-target logit change",
		short: "clean-target Δ",
		formula: (t) => `logit(${t.clean}) patched − logit(${t.clean}) in the clean run`,
		reading: "The assignment's informal variant: how far the clean target's logit is below (negative) or above its value in the clean run.",
	},
	prob_diff: {
		label: "Probability difference",
		short: "prob diff",
		formula: (t) => `p(${t.corrupted}) − p(${t.clean})`,
		reading: "The logit difference after the softmax: between −1 and 1. It needs every patched run's full softmax, so its sweeps take longer.",
		needsProbs: true,
	},
};

// metricValue computes a metric for one cell (three numbers at cells[i*3…]).
// Returns NaN when it cannot be computed.
export function metricValue(metric, cells, i, base) {
	const clean = cells[i * 3], corrupted = cells[i * 3 + 1], lse = cells[i * 3 + 2];
	switch (metric) {
	case "logit_diff":
		return corrupted - clean;
	case "clean_target_delta":
		return clean - base.clean[0];
	case "normalized": {
		const c = base.clean[1] - base.clean[0], k = base.corrupted[1] - base.corrupted[0];
		const den = c - k;
		if (Math.abs(den) <= 1e-5 * Math.max(1, Math.abs(c), Math.abs(k))) return NaN;
		return (corrupted - clean - k) / den;
	}
	case "prob_diff":
		return Math.exp(corrupted - lse) - Math.exp(clean - lse);
	}
	return NaN;
}

// metricProblem says why a metric has no values: "probs" (prob_diff on a
// sweep without probabilities), "flat" (normalized with equal baselines), or null.
export function metricProblem(metric, base, haveProbs) {
	if (metric === "prob_diff" && !haveProbs) return "probs";
	if (metric === "normalized") {
		const c = base.clean[1] - base.clean[0], k = base.corrupted[1] - base.corrupted[0];
		if (Math.abs(c - k) <= 1e-5 * Math.max(1, Math.abs(c), Math.abs(k))) return "flat";
	}
	return null;
}

// VIEWS are what the site selector offers. Each is one or more sweeps
// stacked into one heatmap (resid_post shows the embedding as its top row).
export const VIEWS = {
	resid_post: { label: "resid_post — residual stream after each block (+ embed)", short: "resid_post", parts: ["embed", "resid_post"], cols: "positions" },
	attn_out: { label: "attn_out — attention output of each block", short: "attn_out", parts: ["attn_out"], cols: "positions" },
	mlp_out: { label: "mlp_out — MLP output of each block", short: "mlp_out", parts: ["mlp_out"], cols: "positions" },
	z: { label: "z — each attention head, at every position", short: "head z", parts: ["z"], cols: "heads" },
	z_per_position: { label: "z per position — each head at each position (slow)", short: "head z per position", parts: ["z_per_position"], cols: "positions" },
};

// shape is a site's sweep size for a model configuration and T tokens.
export function shape(site, cfg, T) {
	switch (site) {
	case "embed": return [1, T];
	case "z": return [cfg.n_layer, cfg.n_head];
	case "z_per_position": return [cfg.n_layer * cfg.n_head, T];
	default: return [cfg.n_layer, T];
	}
}

// rowLabel names row r of a site.
export function rowLabel(site, r, cfg) {
	switch (site) {
	case "embed": return "embed";
	case "z_per_position": return `L${Math.floor(r / cfg.n_head)} H${r % cfg.n_head}`;
	default: return String(r);
	}
}

// cost estimates a row's work: the blocks it recomputes.
export function rowCost(site, r, cfg) {
	const L = cfg.n_layer;
	switch (site) {
	case "embed": return L + 0.2;
	case "resid_post": return L - 1 - r + 0.2;
	case "z_per_position": return L - Math.floor(r / cfg.n_head) + 0.2;
	default: return L - r + 0.2;
	}
}

// Sweep is a site's cells for one request, filled row by row.
export class Sweep {
	constructor(site, rows, cols, probs) {
		this.site = site;
		this.rows = rows;
		this.cols = cols;
		this.probs = probs;
		this.cells = new Float64Array(rows * cols * 3).fill(NaN);
		this.done = new Uint8Array(rows);
	}
	setRow(r, cells) {
		this.cells.set(cells, r * this.cols * 3);
		this.done[r] = 1;
	}
	get complete() {
		return this.done.every((d) => d === 1);
	}
}
