// A throw-away worker for the pool's concurrency probe (pool.js,
// probeCores): no engine and no weights, a few kB of memory. Told {n}, it
// spins a fixed integer loop of n steps and answers how long it took
// ({ms}), measured in here so that starting the worker is not counted.
"use strict";
self.onmessage = (ev) => {
	const n = ev.data.n;
	const t0 = performance.now();
	let x = ev.data.seed | 0;
	for (let i = 0; i < n; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
	self.postMessage({ ms: performance.now() - t0, x });
};
