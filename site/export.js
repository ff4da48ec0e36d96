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

export function slug(s) {
	return String(s).replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "analysis";
}
