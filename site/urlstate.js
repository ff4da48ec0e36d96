// The analysis in the URL's fragment (#clean=…&corrupted=…&clean_target=…
// &corrupted_target=…&site=…&metric=…&view=…&method=…, and the design:
// direction, corruption, noise_scale, noise_seeds, noise_positions, seed,
// pairs), so that a shared link reproduces it. The query string is read
// too. Anything unexpected is ignored.

const TEXT_KEYS = ["clean", "corrupted", "clean_target", "corrupted_target"];
const MAX_TEXT = 4000;

const NAME = /^[a-z][a-z0-9_]{0,39}$/;

// The experiment's design (design.js), each key with the values it may take.
const DESIGN = {
	direction: /^(denoise|noise)$/,
	corruption: /^(text|noise)$/,
	noise_scale: /^\d{1,6}(\.\d{1,6})?$/,
	noise_seeds: /^\d{1,4}$/,
	noise_positions: /^\d{1,4}(,\d{1,4}){0,63}$/,
	seed: /^\d{1,19}$/,
	pairs: /^(ioi|factual):\d{1,4}$/,
};

// readState reads the URL: sites and metrics are the names it may carry
// (objects keyed by name); sites null: any name of lower-case letters,
// digits and underscores (the engine's sites are known only once a model
// is loaded).
export function readState(loc, sites, metrics) {
	const out = {};
	for (const src of [loc.search, loc.hash]) {
		let params;
		try {
			params = new URLSearchParams(String(src || "").replace(/^[?#]/, ""));
		} catch {
			continue;
		}
		for (const k of TEXT_KEYS) {
			const v = params.get(k);
			if (typeof v === "string" && v.length <= MAX_TEXT) out[k] = v;
		}
		const site = params.get("site"), metric = params.get("metric");
		if (site && (sites ? Object.hasOwn(sites, site) : NAME.test(site))) out.site = site;
		if (metric && Object.hasOwn(metrics, metric)) out.metric = metric;
		const look = params.get("view"); // the view open, when not the heatmap
		if (look && NAME.test(look)) out.view = look;
		const method = params.get("method"); // the attribution-patching view's method
		if (method && NAME.test(method)) out.method = method;
		for (const [k, re] of Object.entries(DESIGN)) {
			const v = params.get(k);
			if (v && re.test(v)) out[k] = v;
		}
	}
	return out;
}

// writeState puts the analysis in the URL's fragment, leaving out a text
// longer than readState takes (a pasted book must not go into the address
// bar). Returns whether every text went in.
export function writeState(s) {
	const p = new URLSearchParams();
	let whole = true;
	for (const k of TEXT_KEYS) {
		const v = String(s[k] ?? "");
		if (v.length <= MAX_TEXT) p.set(k, v);
		else whole = false;
	}
	if (s.site) p.set("site", s.site);
	p.set("metric", s.metric);
	if (s.view) p.set("view", s.view);
	if (s.method) p.set("method", s.method);
	for (const k of Object.keys(DESIGN)) if (s[k] !== undefined && s[k] !== "") p.set(k, String(s[k]));
	const url = new URL(location.href);
	url.hash = p.toString();
	if (url.href !== location.href) history.replaceState(null, "", url.href);
	return whole;
}

// An option from the query string, for tests and benchmarks (?workers=2).
export function option(name) {
	try {
		return new URLSearchParams(location.search).get(name);
	} catch {
		return null;
	}
}
