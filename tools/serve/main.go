// Command serve serves patchlab's built site (./build.sh serve runs it), or
// builds it with -build. It serves .wasm as application/wasm, gzip-compressed
// (the build's .gz copies, or on the fly), with caching headers that let
// content-addressed weight shards be kept for good and revalidate the rest.
//
//	go run ./tools/serve -build -dir dist     # build the site into dist/
//	go run ./tools/serve -dir dist -addr 127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/patchlab/patchlab/tools/serve/web"
)

func main() {
	dir := flag.String("dir", "dist", "the built site to serve (or to build into, with -build)")
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	build := flag.Bool("build", false, "build the site into -dir and exit")
	quiet := flag.Bool("q", false, "do not log each request")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("serve: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *build {
		root, err := web.ModuleRoot(".")
		if err != nil {
			log.Fatal(err)
		}
		t := time.Now()
		rep, err := web.Build(ctx, root, *dir)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("built %s in %.1fs", rep, time.Since(t).Seconds())
		return
	}
	if _, err := os.Stat(filepath.Join(*dir, "index.html")); err != nil {
		log.Fatalf("%s has no index.html: build the site first (./build.sh build)", *dir)
	}
	if _, err := os.Stat(filepath.Join(*dir, "weights", "manifest.json")); err != nil {
		log.Printf("note: %s/weights/manifest.json is missing: the page will offer to open a model.safetensors", *dir)
	}
	ln, err := net.Listen("tcp", *addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		log.Fatalf("%s is in use (another server, or patchlab already running?): choose another with ADDR=127.0.0.1:8081 ./build.sh serve (or -addr)", *addr)
	}
	if err != nil {
		log.Fatal(err)
	}
	h := web.Handler(*dir)
	if !*quiet {
		h = logged(h)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Printf("patchlab: serving %s at http://%s/ (Ctrl-C stops)\n", *dir, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: 200}
		t := time.Now()
		h.ServeHTTP(rec, r)
		log.Printf("%d %s %s %s", rec.status, r.Method, r.URL.RequestURI(), time.Since(t).Round(time.Millisecond))
	})
}
