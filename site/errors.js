// The one error the page gets from the engine, the workers and the pool
// (see PROTOCOL.md, "Errors"). Owns no state.
//
// Across the seam an error is a plain object {kind, message, detail}:
// built in Go (wasm/errors.go) for the engine's failures, in worker.js for
// the worker's own, in pool.js for a worker lost. The page wraps it in an
// EngineError once, in pool.js, and reads kind and detail; message is one
// line a person can read.

export const KINDS = {
	input: "the request is invalid; detail holds analysis.InputError's fields",
	no_model: "no model is loaded yet",
	bad_weights: "the weights or the checkpoint cannot be used",
	cancelled: "the call was stopped before its end (the workers were replaced)",
	worker_lost: "the worker doing the call ended",
	internal: "anything else: a fault of patchlab's own",
};

export class EngineError extends Error {
	constructor(kind, message, detail = null) {
		super(message);
		this.name = "EngineError";
		this.kind = Object.hasOwn(KINDS, kind) ? kind : "internal";
		this.detail = detail ?? null;
	}

	// from makes an EngineError of what crossed the seam: a {kind, message,
	// detail} object, an Error, or anything else thrown.
	static from(e) {
		if (e instanceof EngineError) return e;
		if (e && typeof e === "object" && typeof e.message === "string") return new EngineError(e.kind, e.message, e.detail);
		return new EngineError("internal", String(e));
	}
}
