// Small helpers for the page's DOM and its words. Owns no state.
// Nothing typed by a user (or read from the URL, or from the model's
// vocabulary) is ever inserted as HTML: every text goes in by textContent.

export const $ = (id) => document.getElementById(id);

export const MB = 1048576;
export const mb = (n) => (n / MB).toFixed(1);

// visible shows a token's spaces and control characters: the usual ones
// as ␣ ↵ ⇥ ␍, the other C0 controls and DEL as their control pictures (␀,
// ␛, ␡), and the invisible ones that would reorder or hide text (C1
// controls, bidirectional overrides and isolates, zero-width characters,
// the byte-order mark) by their code point, ⟨U+202E⟩.
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb ]/g;
export function visible(s, keepSpaces = false) {
	return String(s).replace(HIDDEN, (c) => {
		if (keepSpaces && (c === " " || c === "\n" || c === "\t")) return c;
		const n = c.charCodeAt(0);
		if (c === " ") return "␣";
		if (c === "\n") return "↵";
		if (c === "\t") return "⇥";
		if (c === "\r") return "␍";
		if (n < 0x20) return String.fromCharCode(0x2400 + n);
		if (n === 0x7f) return "␡";
		return `⟨U+${n.toString(16).toUpperCase().padStart(4, "0")}⟩`;
	});
}

// el makes an element: props are attributes, except class and text.
export function el(tag, props = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props)) {
		if (k === "class") e.className = v;
		else if (k === "text") e.textContent = v;
		else e.setAttribute(k, v);
	}
	e.append(...children);
	return e;
}

// paragraphs turns plain text with blank lines between paragraphs into <p>s.
export function paragraphs(text) {
	return String(text || "").split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean).map((p) => el("p", { text: p }));
}

export function setStatus(id, text) {
	$(id).textContent = text;
}

export function seconds(ms) {
	const s = ms / 1000;
	return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// sized sets a canvas to w × h CSS px at the device pixel ratio and returns
// its context, scaled to CSS px.
export function sized(canvas, w, h) {
	const dpr = window.devicePixelRatio || 1;
	canvas.width = Math.round(w * dpr);
	canvas.height = Math.round(h * dpr);
	canvas.style.width = `${w}px`;
	canvas.style.height = `${h}px`;
	const ctx = canvas.getContext("2d");
	ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
	return ctx;
}
