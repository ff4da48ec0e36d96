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

// colLabels names a site's columns; positions are the run's position labels.
export function colLabels(s, positions) {
	return s.columns === "heads" ? s.col_labels : positions;
}

// positionLabels are the baseline's labels of the positions as the page
// shows them: the engine's (the CLI's: "1  Jones→Smith", the index, a space,
// the clean token and where it differs the corrupted one) with the tokens'
// spaces and control characters made visible, the index's space kept.
export function positionLabels(b) {
	return b.position_labels.map((l) => {
		const m = /^(\d+ )([\s\S]*)$/.exec(l);
		return m ? m[1] + visible(m[2]) : visible(l);
	});
}
