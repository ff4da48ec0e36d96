// The engine's site table, as the page reads it. Owns no state: the table
// comes with the model (the load result's "sites" and "views", see
// PROTOCOL.md), and the page knows no site of its own.
//
// A site is one sweep: {name, description, rows, row_title, row_labels,
// row_group, columns: "positions"|"heads", col_title, col_labels (heads
// only), row_cost (blocks each row recomputes)}. A view is what the site
// selector offers: {name, label, short, parts (sites stacked top to
// bottom), help, slow}.

import { visible } from "./dom.js";

// site is the descriptor of a site of the loaded model.
export function site(info, name) {
	const s = info && info.sites.find((x) => x.name === name);
	if (!s) throw new Error(`the engine has no site ${JSON.stringify(name)}`);
	return s;
}

export function views(info) {
	return info ? info.views : [];
}

// view is the descriptor of a view, or undefined.
export function view(info, name) {
	return views(info).find((v) => v.name === name);
}

// cols is how many columns a sweep of site has for texts of T tokens.
export function cols(s, T) {
	return s.columns === "heads" ? s.col_labels.length : T;
}

// colLabels names a site's columns; positionLabels are the run's.
export function colLabels(s, positionLabels) {
	return s.columns === "heads" ? s.col_labels : positionLabels;
}

// positionLabels is the baseline's label of each position, as shown.
export function positionLabels(b) {
	if (b.position_labels) return b.position_labels.map((l) => visible(l));
	// TODO(site table): an engine before the site table has no position_labels.
	return b.clean_tokens.map((t, i) => {
		const k = b.corrupted_tokens[i];
		return k.id === t.id ? `${i} ${visible(t.text)}` : `${i} ${visible(t.text)}/${visible(k.text)}`;
	});
}

// withSiteTable gives a load result the site table when its engine does not
// send one yet. TODO(site table): goes when the engine sends it.
export function withSiteTable(info) {
	if (info.sites) return info;
	const L = info.config.n_layer, H = info.config.n_head;
	const nums = (n, f = String) => Array.from({ length: n }, (_, i) => f(i));
	const layers = { rows: L, row_title: "layer", row_labels: nums(L), row_group: 0, columns: "positions", col_title: "position: token (clean/corrupted where they differ)" };
	const sites = [
		{ ...layers, name: "embed", description: "token + position embedding, the input of block 0", rows: 1, row_labels: ["embed"], row_cost: [L] },
		{ ...layers, name: "resid_post", description: "residual stream after each block", row_cost: nums(L, (r) => L - 1 - r) },
		{ ...layers, name: "attn_out", description: "attention output of each block", row_cost: nums(L, (r) => L - r) },
		{ ...layers, name: "mlp_out", description: "MLP output of each block", row_cost: nums(L, (r) => L - r) },
		{ ...layers, name: "z", description: "each attention head, at every position", columns: "heads", col_title: "head (patched at every position)", col_labels: nums(H, (h) => `H${h}`), row_cost: nums(L, (r) => L - r) },
		{ ...layers, name: "z_per_position", description: "each head at each position", rows: L * H, row_title: "layer, head", row_labels: nums(L * H, (r) => `L${Math.floor(r / H)} H${r % H}`), row_group: H, row_cost: nums(L * H, (r) => L - Math.floor(r / H)) },
	];
	const help = "Each cell is one run of the corrupted text in which a single activation — the row's layer, the column's position — was replaced by the clean run's. Its colour is the metric of that run's prediction after the last token.\n\nInformation flows from left to right (later positions read earlier ones) and from top to bottom (later layers read earlier ones). Columns before the first token that differs equal the corrupted run: nothing changed there yet.";
	const views = [
		{ name: "resid_post", label: "resid_post — residual stream after each block (+ embed)", short: "resid_post", parts: ["embed", "resid_post"] },
		{ name: "attn_out", label: "attn_out — attention output of each block", short: "attn_out", parts: ["attn_out"] },
		{ name: "mlp_out", label: "mlp_out — MLP output of each block", short: "mlp_out", parts: ["mlp_out"] },
		{ name: "z", label: "z — each attention head, at every position", short: "head z", parts: ["z"] },
		{ name: "z_per_position", label: "z per position — each head at each position (slow)", short: "head z per position", parts: ["z_per_position"], slow: true },
	].map((v) => ({ help, slow: false, ...v }));
	return { ...info, sites, views };
}
