//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "wasm: this is the browser engine; build it with GOOS=js GOARCH=wasm (./build.sh build)")
	os.Exit(2)
}
