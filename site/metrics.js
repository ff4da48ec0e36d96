// The metrics, which the page computes itself: every metric is a function
// of the cells a sweep returns, so switching metric never re-runs the
// model. Owns no state. (The sites come from the engine: sites.js.)

// A cell is three numbers: the clean target's logit and the corrupted
// target's logit at the last position of the patched corrupted run, and the
// log-sum-exp of all logits (NaN unless the sweep computed probabilities).

export const METRICS = {
	logit_diff: {
		label: "Logit difference",
		short: "logit diff",
		formula: (t) => `logit(${t.corrupted}) − logit(${t.clean})`,
		reading: "How much more the model expects the corrupted target than the clean one after the patch (0: both equally). Read a cell against the two unpatched runs, not against 0: the nearer it is to the clean run's value, the more of the clean answer the patch restores.",
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
		reading: "An informal variant: how far the clean target's logit is below (negative) or above its value in the clean run.",
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
