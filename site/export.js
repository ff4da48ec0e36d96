// Exports: CSV text, and saving a Blob as a download.

function csvCell(v) {
	if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
	const s = String(v);
	// Quote always; keep a spreadsheet from reading a token such as "=1+1"
	// or "-x" as a formula (a lone "-" is harmless and stays as it is).
	const safe = /^([=+@\t\r]|-.)/.test(s) ? "'" + s : s;
	return '"' + safe.replace(/"/g, '""') + '"';
}

export function csv(rows) {
	return rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function save(blob, name) {
	const url = URL.createObjectURL(blob);
	const a = document.createElement("a");
	a.href = url;
	a.download = name;
	document.body.appendChild(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// slug makes a file name's part of a text: its words joined by "-", cut
// at a word's end to at most 40 characters (a first word longer than that
// is cut where it must be).
export function slug(s) {
	const all = String(s).replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
	if (all.length <= 40) return all || "analysis";
	const cut = all.slice(0, 41).lastIndexOf("-");
	return cut > 0 ? all.slice(0, cut) : all.slice(0, 40);
}
