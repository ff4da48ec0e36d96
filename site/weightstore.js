// Shared by the page and the workers (a classic script in workers,
// imported for its side effect by the page): Cache Storage for converted
// weights, keyed by each shard's sha256, with integrity checks.
"use strict";
(() => {
	const CACHE = "patchlab-weights-v1";
	// Cache keys are URLs; these are never fetched, only used as names.
	const scope = (self.registration && self.registration.scope) || new URL(".", self.location.href).href;
	const shardKey = (sha) => new URL(`__patchlab__/shard/${sha}`, scope).href;
	const userManifestKey = () => new URL("__patchlab__/user-manifest.json", scope).href;

	const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

	async function sha256(bytes) {
		return hex(await crypto.subtle.digest("SHA-256", bytes));
	}

	// storeProblem says in a few words why Cache Storage failed.
	function storeProblem(e) {
		if (!self.caches) return "the page has no Cache Storage here (a private window, or a page not served over https?)";
		if (e && e.name === "QuotaExceededError") return "the storage for this page is full (quota exceeded)";
		return `its Cache Storage failed (${(e && (e.message || e.name)) || e})`;
	}

	// openOrThrow opens the cache for writing: it throws, saying why, when
	// there is none to write to.
	async function openOrThrow() {
		if (!self.caches) throw new Error(storeProblem());
		try {
			return await caches.open(CACHE);
		} catch (e) {
			throw new Error(storeProblem(e));
		}
	}

	async function open() {
		try {
			return await openOrThrow();
		} catch {
			return null; // no Cache Storage (private mode, insecure context): work without it
		}
	}

	// getShard returns a shard's verified bytes: from the cache when an
	// intact copy is there, else from url (null: cache only), then cached.
	// onBytes(n) reports bytes as they arrive; onNote(text) says what happened.
	// opts: phases, an object adding up the ms spent reading the cache
	// ("cacheRead"), downloading ("download"), hashing ("hash") and keeping
	// ("cachePut"), and the bytes hashed ("hashedBytes"); puts, an array: given, a downloaded shard is kept in the
	// cache while the caller goes on, and the promise of that is pushed there
	// (it never rejects), else getShard waits for it.
	async function getShard(shard, url, onBytes, onNote, { phases = {}, puts = null } = {}) {
		const add = (name, t) => { phases[name] = (phases[name] || 0) + performance.now() - t; };
		const hashed = (bytes) => { phases.hashedBytes = (phases.hashedBytes || 0) + bytes.length; return sha256(bytes); };
		let t = performance.now();
		const cache = await open();
		const key = shardKey(shard.sha256);
		if (cache) {
			const hit = await cache.match(key);
			if (hit) {
				const bytes = new Uint8Array(await hit.arrayBuffer());
				add("cacheRead", t);
				t = performance.now();
				const sum = bytes.length === shard.size && (await hashed(bytes));
				add("hash", t);
				if (sum === shard.sha256) {
					onBytes(bytes.length, "cache");
					return bytes;
				}
				onNote(`The cached copy of ${shard.file} is corrupt (sha256 mismatch): fetching it again.`);
				await cache.delete(key);
			}
		}
		// The errors below name no file: the engine says which shard they are of.
		if (!url) throw new Error(cache ? "it is not in this browser's cache any more: open the model file again" : "it is kept in this browser's Cache Storage, which cannot be opened now (a private window?): open the model file again");
		// Kept in Cache Storage below: no second copy in the HTTP cache.
		t = performance.now();
		const res = await fetch(url, cache ? { cache: "no-store" } : {});
		if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText} from ${url}`);
		// A host that answers every path with its home page (status 200).
		const type = res.headers.get("content-type") || "";
		if (/^text\/html\b/i.test(type)) {
			res.body && res.body.cancel().catch(() => {});
			throw new Error(`${url} answered with an HTML page (${type.split(";")[0]}), not the shard's bytes: the weights are not where the manifest is`);
		}
		const bytes = new Uint8Array(shard.size);
		let n = 0;
		const reader = res.body.getReader();
		for (;;) {
			let chunk;
			try {
				chunk = await reader.read();
			} catch (e) {
				throw new Error(`the download broke off after ${n} of ${shard.size} bytes (${e.message})`);
			}
			const { done, value } = chunk;
			if (done) break;
			if (n + value.length > shard.size) {
				reader.cancel().catch(() => {});
				throw new Error(`more than the ${shard.size} bytes the manifest says (a wrong or stale file?)`);
			}
			bytes.set(value, n);
			n += value.length;
			onBytes(value.length, "network");
		}
		if (n !== shard.size) throw new Error(`${n} bytes, the manifest says ${shard.size} (a truncated file or download?)`);
		add("download", t);
		t = performance.now();
		const sum = await hashed(bytes);
		add("hash", t);
		if (sum !== shard.sha256) throw new Error("its sha256 does not match the manifest (a corrupt or stale file on the server?)");
		if (cache) {
			t = performance.now();
			const kept = putShard(cache, shard.sha256, bytes).then(() => add("cachePut", t), (e) => {
				// The bytes are here: the next visit downloads them again.
				console.warn(`patchlab: ${shard.file} is not kept in this browser:`, e.message);
			});
			if (puts) puts.push(kept);
			else await kept;
		}
		return bytes;
	}

	// putShard stores a shard; it throws, saying why, when it cannot.
	async function putShard(cache, sha, bytes) {
		try {
			await cache.put(shardKey(sha), new Response(bytes, { headers: { "content-type": "application/octet-stream" } }));
		} catch (e) {
			throw new Error(storeProblem(e));
		}
	}

	self.PatchlabStore = {
		sha256,
		getShard,
		// putShard and setUserManifest throw, saying why, when this browser
		// cannot keep what they are given (no Cache Storage, quota exceeded).
		async putShard(sha, bytes) {
			await putShard(await openOrThrow(), sha, bytes);
		},
		// The manifest of weights converted from a user's file.
		async userManifest() {
			const cache = await open();
			try {
				const hit = cache && (await cache.match(userManifestKey()));
				return hit ? await hit.text() : null;
			} catch {
				return null;
			}
		},
		async setUserManifest(text) {
			const cache = await openOrThrow();
			try {
				await cache.put(userManifestKey(), new Response(text, { headers: { "content-type": "application/json" } }));
			} catch (e) {
				throw new Error(storeProblem(e));
			}
		},
		async clear() {
			if (!self.caches) return;
			try {
				await caches.delete(CACHE);
			} catch (e) {
				throw new Error(storeProblem(e));
			}
		},
		// cachedShards counts the manifest's shards already in the cache.
		async cachedShards(manifest) {
			const cache = await open();
			if (!cache) return 0;
			const hits = await Promise.all(manifest.shards.map((s) => cache.match(shardKey(s.sha256))));
			return hits.filter(Boolean).length;
		},
	};
})();
