// The model's name and its check in words, for the model details: the
// engine's Info.name (never "GPT-2 small" unless its configuration is) and
// Info.check, the published-numbers check the converter recorded in the
// weights' manifest (patchlab check: {result, against, checks, detail}).
// Owns no state.

// checkText says whether the model was checked against the published
// GPT-2 numbers, or why not.
export function checkText(info) {
	const c = info && info.check;
	if (!c) return "not checked";
	switch (c.result) {
	case "passed":
		return "checked against the published GPT-2 numbers";
	case "failed":
		return `failed the check against the published GPT-2 numbers: ${c.detail || "no detail recorded"}`;
	case "skipped":
		return "not checked against the published GPT-2 numbers: not GPT-2 small";
	}
	return "not checked";
}

// modelName is what the model is called ("GPT-2 small", "a 4-layer test model").
export const modelName = (info) => (info && info.name) || "a model";
