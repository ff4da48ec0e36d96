// The two top-20 tables of a baseline, and their CSV. Owns no state.

import { $, el, visible } from "./dom.js";
import { csv } from "./export.js";

export function renderTables(b) {
	document.querySelector(".tables").hidden = !b;
	for (const [id, rows, name] of [["clean-top", b && b.clean_top, "Clean"], ["corrupted-top", b && b.corrupted_top, "Corrupted"]]) {
		const table = $(id);
		const targets = b ? new Set([b.clean_target_id, b.corrupted_target_id]) : new Set();
		table.tBodies[0].replaceChildren(...(rows || []).map((t) =>
			el("tr", { class: targets.has(t.id) ? "target" : "" },
				el("td", { text: String(t.rank) }), el("td", { text: String(t.id) }),
				el("td", { class: "tok", text: visible(t.token) }), el("td", { text: t.p.toFixed(4) }))));
		const toks = b && (name === "Clean" ? b.clean_tokens : b.corrupted_tokens);
		const last = toks && toks.length ? visible(toks[toks.length - 1].text) : "";
		table.caption.textContent = b ? `${name} run: the 20 most probable tokens after “${last}”` : `${name} run: the 20 most probable next tokens`;
	}
}

// tablesCSV is both tables as one CSV file.
export function tablesCSV(b) {
	const rows = [["run", "rank", "token_index", "token", "probability"]];
	for (const [run, t] of [["clean", b.clean_top], ["corrupted", b.corrupted_top]]) for (const e of t) rows.push([run, e.rank, e.id, e.token, e.p]);
	return new Blob([csv(rows)], { type: "text/csv" });
}
