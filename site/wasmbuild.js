// Which build of the engine to load: patchlab-simd.wasm, compiled for
// 128-bit WebAssembly SIMD, where the browser has it, else patchlab.wasm.
// The test is a tiny module using SIMD instructions (i8x16.splat,
// i8x16.popcnt) that only a SIMD-capable browser validates.
const SIMD_PROBE = new Uint8Array([
	0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

export function wasmURL() {
	return WebAssembly.validate(SIMD_PROBE) ? "patchlab-simd.wasm" : "patchlab.wasm";
}
