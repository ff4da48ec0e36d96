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

	async function open() {
		try {
			return self.caches ? await caches.open(CACHE) : null;
		} catch {
			return null; // no Cache Storage (private mode, insecure context): work without it
		}
	}

	// getShard returns a shard's verified bytes: from the cache when an
	// intact copy is there, else from url (null: cache only), then cached.
	// onBytes(n) reports bytes as they arrive; onNote(text) says what happened.
	async function getShard(shard, url, onBytes, onNote) {
		const cache = await open();
		const key = shardKey(shard.sha256);
		if (cache) {
			const hit = await cache.match(key);
			if (hit) {
				const bytes = new Uint8Array(await hit.arrayBuffer());
				if (bytes.length === shard.size && (await sha256(bytes)) === shard.sha256) {
					onBytes(bytes.length, "cache");
					return bytes;
				}
				onNote(`The cached copy of ${shard.file} is corrupt (sha256 mismatch): fetching it again.`);
				await cache.delete(key);
			}
		}
		// The errors below name no file: the engine says which shard they are of.
		if (!url) throw new Error("it is not in this browser's cache any more: open the model file again");
		// Kept in Cache Storage below: no second copy in the HTTP cache.
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
		if ((await sha256(bytes)) !== shard.sha256) throw new Error("its sha256 does not match the manifest (a corrupt or stale file on the server?)");
		if (cache) await putShard(cache, shard.sha256, bytes);
		return bytes;
	}

	async function putShard(cache, sha, bytes) {
		try {
			await cache.put(shardKey(sha), new Response(bytes, { headers: { "content-type": "application/octet-stream" } }));
		} catch (e) {
			console.warn("patchlab: could not cache a shard:", e); // quota: the next visit downloads again
		}
	}

	self.PatchlabStore = {
		sha256,
		getShard,
		async putShard(sha, bytes) {
			const cache = await open();
			if (cache) await putShard(cache, sha, bytes);
		},
		// The manifest of weights converted from a user's file.
		async userManifest() {
			const cache = await open();
			const hit = cache && (await cache.match(userManifestKey()));
			return hit ? hit.text() : null;
		},
		async setUserManifest(text) {
			const cache = await open();
			if (cache) await cache.put(userManifestKey(), new Response(text, { headers: { "content-type": "application/json" } }));
		},
		async clear() {
			if (self.caches) await caches.delete(CACHE);
		},
		// cachedShards counts the manifest's shards already in the cache.
		async cachedShards(manifest) {
			const cache = await open();
			if (!cache) return 0;
			let n = 0;
			for (const s of manifest.shards) if (await cache.match(shardKey(s.sha256))) n++;
			return n;
		},
	};
})();
