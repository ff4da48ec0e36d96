#!/usr/bin/env bash
# build.sh — build, and serve, patchlab's web page: a static folder that any
# static host (GitHub Pages, a plain web server) can serve as it is.
#
#   ./build.sh build     the site into dist/: the engine compiled to WebAssembly
#                        twice, portable (patchlab.wasm) and with WebAssembly
#                        SIMD (patchlab-simd.wasm: Go 1.27.3, GOEXPERIMENT=simd,
#                        which the build sets; the go command fetches that Go
#                        through the module proxy the first time), Go's
#                        wasm_exec.js, site/, gzip copies (idempotent)
#   ./build.sh weights   download GPT-2 and convert it to the web format into
#                        $PATCHLAB_WEIGHTS (needs the network; without it, says
#                        how else to give weights and goes on), then check it
#                        against the published GPT-2 numbers (stops if it fails)
#   ./build.sh serve     build, fetch the weights if missing, put them in
#                        dist/weights/ (a link), serve dist/ at http://127.0.0.1:8080/
#   ./build.sh dist      build, fetch the weights if missing, copy them into
#                        dist/weights/: the folder to publish (GitHub Pages)
#   ./build.sh           the same as serve
#
# Environment:
#   REQUIRE_WEIGHTS   set to 1: fail (rather than go on without weights) when
#                     they cannot be fetched or are not GPT-2 small — for a deploy
#   PATCHLAB_WEIGHTS  converted weights (manifest.json + shards);
#                     default ${XDG_CACHE_HOME:-$HOME/.cache}/patchlab/gpt2
#   DIST              output folder (default dist)
#   ADDR              address to serve on (default 127.0.0.1:8080)
#
# To publish: ./build.sh dist, and upload dist/. Without weights the page
# offers to open a model.safetensors instead.
set -euo pipefail
cd "$(dirname "$0")"

DIST="${DIST:-dist}"
WEIGHTS="${PATCHLAB_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/patchlab/gpt2}"
ADDR="${ADDR:-127.0.0.1:8080}"

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_go() {
	command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH (https://go.dev/dl/); it builds the engine."
}

build() {
	need_go
	say "building the site into $DIST/"
	go run ./tools/serve -build -dir "$DIST" || die "the build failed (see above); $DIST/ is left as it was."
}

no_weights() {
	cat >&2 <<MSG
build.sh: no GPT-2 weights were fetched ($1). The page still works: it will
  offer to open a model.safetensors from your disk or a URL and convert it in
  the browser. To serve converted weights instead, either
  - run ./build.sh weights on a machine with internet, and copy
    $WEIGHTS there to this machine (or point PATCHLAB_WEIGHTS at the copy), or
  - convert a model.safetensors you already have with the patchlab command
    (go run ./tools/patchlab help) into $WEIGHTS.
MSG
}

weights() {
	need_go
	if [ ! -d tools/patchlab ]; then
		no_weights "this checkout has no tools/patchlab command yet"
		return 0
	fi
	say "checking, or downloading and converting, GPT-2 in $WEIGHTS"
	mkdir -p "$(dirname "$WEIGHTS")"
	if go run ./tools/patchlab fetch -out "$WEIGHTS"; then
		say "the weights are in $WEIGHTS; checking them against the published GPT-2 small numbers"
		local require=""
		[ "${REQUIRE_WEIGHTS:-}" = 1 ] && require=-require
		go run ./tools/patchlab check $require -model "$WEIGHTS" ||
			die "the weights in $WEIGHTS did not pass the check against the published GPT-2 numbers (see above): not using them. Delete the folder and run ./build.sh weights again; if it fails again, report it."
	elif [ "${REQUIRE_WEIGHTS:-}" = 1 ]; then
		die "no weights, and REQUIRE_WEIGHTS=1: stopping"
	else
		no_weights "the download or the conversion failed, see above"
	fi
	return 0
}

serve() {
	build
	weights
	rm -rf "$DIST/weights"
	if [ -f "$WEIGHTS/manifest.json" ]; then
		ln -s "$(cd "$WEIGHTS" && pwd -P)" "$DIST/weights"
		say "serving the weights of $WEIGHTS as $DIST/weights/"
	fi
	exec go run ./tools/serve -dir "$DIST" -addr "$ADDR"
}

# dist builds the folder to publish, with a real copy of the weights.
dist() {
	build
	weights
	rm -rf "$DIST/weights"
	if [ -f "$WEIGHTS/manifest.json" ]; then
		mkdir -p "$DIST/weights"
		cp "$WEIGHTS"/manifest.json "$WEIGHTS"/shard-*.bin "$DIST/weights/"
		say "copied the weights of $WEIGHTS into $DIST/weights/"
	fi
	say "$DIST/ is ready to publish"
}

case "${1:-serve}" in
build) build ;;
dist) dist ;;
weights) weights ;;
serve) serve ;;
-h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
*) die "unknown command ${1}: use build, weights, serve or dist (./build.sh help)" ;;
esac
