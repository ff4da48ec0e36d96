package sitetest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/patchlab/patchlab/model/fixture"
	"github.com/patchlab/patchlab/model/safetensors"
	"github.com/patchlab/patchlab/model/webfmt"
	"github.com/patchlab/patchlab/tools/browserbench/chromium"
	"github.com/patchlab/patchlab/tools/serve/web"
)

// The browser tests build the site once (the wasm engine and site/ into a
// temporary dist/ with the tiny fixture converted to the web format in
// dist/weights), serve it from an httptest server and drive one headless
// Chromium, a tab per test.

// chromiumPath is the browser the tests drive ($PATCHLAB_CHROMIUM or the PATH).
var chromiumPath = chromium.Find()

// fixtures is the shared fixtures directory (../shared/fixtures).
var fixtures, _ = fixture.Dir()

var (
	setupOnce sync.Once
	shared    *env
	setupErr  error
	cleanups  []func()
)

type env struct {
	dist    string
	srv     *httptest.Server
	browser context.Context // a chromedp context whose browser runs
	trap    *trap
	golden  goldenFile
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// setup returns the shared environment, skipping the test without Chromium.
func setup(t *testing.T) *env {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser tests need %s (apt-get install chromium): %v", chromiumPath, err)
	}
	setupOnce.Do(func() { shared, setupErr = newEnv() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return shared
}

func newEnv() (*env, error) {
	e := &env{}
	tmp, err := os.MkdirTemp("", "patchlab-sitetest-")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(tmp) })
	root, err := web.ModuleRoot(".")
	if err != nil {
		return nil, err
	}
	e.dist = filepath.Join(tmp, "dist")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := web.Build(ctx, root, e.dist)
	if err != nil {
		return nil, err
	}
	fmt.Printf("sitetest: built %s\n", rep)
	if err := convertTiny(filepath.Join(e.dist, "weights")); err != nil {
		return nil, err
	}
	if e.golden, err = readGolden(); err != nil {
		return nil, err
	}
	e.srv = serve(e.dist)
	cleanups = append(cleanups, e.srv.Close)

	e.trap = newTrap()
	cleanups = append(cleanups, e.trap.close)
	opts := append(chromium.AllocatorOptions(chromiumPath, filepath.Join(tmp, "profile")),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,AutofillServerCommunication,OptimizationHints,MediaRouter,DialMediaRouteProvider,CertificateTransparencyComponentUpdater"),
		chromedp.WindowSize(1280, 1000),
		// Everything not on this machine goes to the trap, which records it.
		chromedp.ProxyServer(e.trap.url()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	cleanups = append(cleanups, cancelAlloc, cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		return nil, fmt.Errorf("starting %s: %w", chromiumPath, err)
	}
	e.browser = browser
	return e, nil
}

// convertTiny writes the tiny fixture in the web format to dir, at the
// width the page converts at, so that both conversions are the same files.
func convertTiny(dir string) error {
	f, err := safetensors.Open(filepath.Join(fixtures, "tiny-gpt2", "model.safetensors"))
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, err := os.ReadFile(filepath.Join(fixtures, "tiny-gpt2", "config.json"))
	if err != nil {
		return err
	}
	return webfmt.Convert(context.Background(), f, cfg, dir, webfmt.Uncalibrated, nil)
}

// serve serves dist as tools/serve does, and the fixture's checkpoint at
// /fixtures/tiny/ (model.safetensors and config.json, for the float32 path).
func serve(dist string) *httptest.Server {
	mux := http.NewServeMux()
	for _, name := range []string{"model.safetensors", "config.json"} {
		mux.HandleFunc("/fixtures/tiny/"+name, func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, filepath.Join(fixtures, "tiny-gpt2", name))
		})
	}
	mux.Handle("/", web.Handler(dist))
	return httptest.NewServer(mux)
}

// googleService matches requests Chromium makes for itself whatever the
// page does (the flags above turn most of them off, not all).
// They are named one by one, so that a request of the page to any other
// host, Google's included, still fails the test.
var googleService = regexp.MustCompile(`^(CONNECT |[A-Z]+ http://)(content-autofill\.googleapis|accounts\.google|clients[0-9]\.google|android\.clients\.google|www\.google|update\.googleapis|optimizationguide-pa\.googleapis)\.com[:/]`)

// trap is an HTTP proxy that answers every request with 403 and records
// it: the browser sends it whatever does not go to this machine.
type trap struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newTrap() *trap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	tr := &trap{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				tr.mu.Lock()
				tr.seen = append(tr.seen, strings.TrimSpace(line))
				tr.mu.Unlock()
				fmt.Fprint(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	return tr
}

func (tr *trap) url() string { return "http://" + tr.ln.Addr().String() }
func (tr *trap) close()      { tr.ln.Close() }
func (tr *trap) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.seen...)
}

// tab is one browser tab on the test server, recording its console,
// exceptions, dialogs and requests; at the test's end it checks that no
// request left the server's origin and that no dialog opened. The page's
// requests are seen through the DevTools protocol; its workers' and service
// worker's (which that session does not see) through the trap proxy, which
// receives every request to another machine.
type tab struct {
	t       *testing.T
	ctx     context.Context
	origin  string
	mu      sync.Mutex
	urls    []string
	dialogs []string
	errors  []string
}

// tabLimit is how long a tab may live: 4 minutes (a hang, not a slow
// machine), more for the heavy measurements.
var tabLimit = 4 * time.Minute

func newTab(t *testing.T, e *env) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, tabLimit) // a hang, not a slow machine
	tb := &tab{t: t, ctx: ctx, origin: e.srv.URL}
	if err := chromedp.Do(ctx); err != nil { // open the tab
		t.Fatal(err)
	}
	trapped := len(e.trap.requests())
	if err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			tb.urls = append(tb.urls, ev.Request.URL)
		case *page.EventJavascriptDialogOpening:
			tb.dialogs = append(tb.dialogs, ev.Message)
		}
	}); err != nil {
		t.Fatal(err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			// The browser itself asks for /favicon.ico when it shows a file
			// that is no page (TestOffline opens app.js), and that 404 can
			// land in the next page's console.
			browsers := strings.HasSuffix(m.URL, "/favicon.ico")
			if (m.IsException() || m.Type == "error") && !browsers {
				text := m.Text
				if m.URL != "" { // a failed request says which in URL only
					text += " (" + m.URL + ")"
				}
				tb.mu.Lock()
				tb.errors = append(tb.errors, text)
				tb.mu.Unlock()
			}
			if testing.Verbose() {
				t.Logf("console %s: %s", m.Type, m)
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, u := range tb.urls {
			if !strings.HasPrefix(u, tb.origin+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:"+tb.origin+"/") {
				t.Errorf("a request left the test server's origin: %s", u)
			}
		}
		for _, r := range e.trap.requests()[trapped:] {
			// Chromium's own services (sign-in, autofill) are not the page's doing.
			if googleService.MatchString(r) {
				continue
			}
			t.Errorf("the browser tried to reach the network: %s", r)
		}
		if testing.Verbose() {
			t.Logf("the tab requested %d URLs, e.g. %q", len(tb.urls), tb.urls[:min(len(tb.urls), 40)])
		}
		for _, d := range tb.dialogs {
			t.Errorf("a dialog opened: %q", d)
		}
		for _, m := range tb.errors {
			t.Errorf("the page logged an error: %s", m)
		}
		cancelTimeout()
		cancel()
	})
	return tb
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatal(err)
	}
}

// eval evaluates JavaScript (awaiting a promise) into a T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript predicate until it holds.
func (tb *tab) wait(what, expr string, timeout time.Duration) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		st, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[json.RawMessage](`JSON.stringify(patchlab.status())`))
		tb.t.Fatalf("waiting for %s: %v (status %s)", what, err, st)
	}
}

// open loads the page (query: e.g. "?workers=2") and waits for the model
// in all its workers.
func (tb *tab) open(query string, workers int) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.origin + "/" + query))
	tb.wait("the model", fmt.Sprintf(`window.patchlab && patchlab.status().ready && patchlab.status().workers.ready >= %d`, workers), 60*time.Second)
}

// setInput replaces a field's text as typing would (an input event).
func (tb *tab) setInput(id, text string) {
	tb.t.Helper()
	js, _ := json.Marshal(text)
	eval[chromedp.Void](tb, fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %s; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, id, js))
}

// runAndWait clicks Run and waits until the run is over.
func (tb *tab) runAndWait() {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.ID("run")))
	tb.wait("the run to start", `patchlab.status().running || /Swept|Done|failed/.test(patchlab.status().runStatus)`, 60*time.Second)
	tb.wait("the run to end", `!patchlab.status().running`, 60*time.Second)
	if st := eval[string](tb, `patchlab.status().runStatus`); !strings.HasPrefix(st, "Swept") && !strings.HasPrefix(st, "Done") {
		tb.t.Fatalf("the run ended with %q", st)
	}
}

// artifact writes a file for a person to look at: to $PATCHLAB_ARTIFACTS
// when set, else to the test's temporary directory (logged).
func artifact(t *testing.T, name string, data []byte) string {
	dir := os.Getenv("PATCHLAB_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", p)
	return p
}
