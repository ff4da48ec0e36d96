// The service worker: keeps the app shell so that a page opened once works
// offline (with the weights this browser keeps, see weightstore.js).
// Network first, so a new build shows at once when online; the cache when
// the network fails. The build stamps VERSION; a new version re-caches the
// shell and drops the old one.
"use strict";
const VERSION = "dev";
const SHELL = `patchlab-shell-${VERSION}`;
const FILES = [
	"./", "index.html", "style.css", "app.js", "dom.js", "errors.js", "link.js", "urlstate.js", "weights.js", "pool.js",
	"texts.js", "run.js", "results.js", "sites.js", "metrics.js", "tables.js", "heatmap-view.js", "heatmap-data.js", "heatmap.js", "export.js",
	"inspect-data.js", "views/common.js", "views/attention.js", "views/lens.js", "views/dla.js", "views/atp.js", "views/views.css",
	"weightstore.js", "worker.js", "memfs.js", "wasm_exec.js", "patchlab.wasm", "patchlab-simd.wasm", "wasmbuild.js",
	"presets.json", "icon.svg", "app.webmanifest", "PROTOCOL.md", "reportkit.js", "modelcheck.js",
	"design.js", "promptset.js", "probe.js",
];
const MANIFEST = "weights/manifest.json";

self.addEventListener("install", (ev) => {
	ev.waitUntil((async () => {
		const cache = await caches.open(SHELL);
		await cache.addAll(FILES.map((f) => new Request(f, { cache: "reload" })));
		// The weights' manifest, when the site has one (the shards themselves
		// are kept by the page, see weightstore.js).
		try {
			const res = await fetch(new Request(MANIFEST, { cache: "reload" }));
			if (res.ok) await cache.put(MANIFEST, res);
		} catch {
			// no weights beside the page
		}
		await self.skipWaiting();
	})());
});

self.addEventListener("activate", (ev) => {
	ev.waitUntil((async () => {
		for (const name of await caches.keys()) {
			if (name.startsWith("patchlab-shell-") && name !== SHELL) await caches.delete(name);
		}
		await self.clients.claim();
	})());
});

self.addEventListener("fetch", (ev) => {
	const req = ev.request;
	const url = new URL(req.url);
	if (req.method !== "GET" || url.origin !== self.location.origin) return;
	const path = url.pathname.slice(new URL(self.registration.scope).pathname.length);
	// Shards are content-addressed and kept by the page itself (Cache Storage,
	// checked by sha256): the service worker leaves them alone.
	if (path.startsWith("weights/") && path !== MANIFEST) return;
	if (path.startsWith("__patchlab__/")) return;
	const navigate = req.mode === "navigate";
	// The page itself, opened in a tab: kept as index.html. Any other
	// navigation (weights/manifest.json or app.js opened in a tab) is never
	// kept as the page.
	const page = navigate && (path === "" || path === "index.html");
	const shell = page || path === MANIFEST || FILES.includes(path);
	if (!shell) return;
	ev.respondWith((async () => {
		const cache = await caches.open(SHELL);
		try {
			const res = await fetch(req);
			if (page) {
				// Only a successful HTML answer is the page (not an error page
				// of a proxy, nor a redirect, which a navigation cannot be answered with).
				const html = /^text\/html\b/i.test(res.headers.get("content-type") || "");
				if (res.ok && res.type === "basic" && !res.redirected && html) ev.waitUntil(cache.put("index.html", res.clone()));
			} else if (!navigate && res.ok && res.type === "basic") {
				ev.waitUntil(cache.put(req, res.clone()));
			}
			return res;
		} catch (e) {
			const hit = await cache.match(page ? "index.html" : req, { ignoreSearch: true });
			if (hit) return hit;
			throw e;
		}
	})());
});
