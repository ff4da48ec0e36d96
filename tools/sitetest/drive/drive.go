// Package drive runs the page in the three browser engines a classroom
// meets — Chromium, Firefox and WebKit (Safari's engine) — through one small
// interface: open a URL, evaluate a script, close. The browser tests and the
// browser bench use it; each engine speaks its own protocol (Chromium the
// DevTools protocol through chromedp, Firefox WebDriver BiDi over a
// websocket, WebKit classic W3C WebDriver over HTTP), so the page is tested
// as each engine really runs it, with no extra driver to install.
package drive

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	chromiumpkg "github.com/patchlab/patchlab/tools/browserbench/chromium"
)

// Browser is one running browser with one page.
type Browser interface {
	// Name is the engine: chromium, firefox or webkit.
	Name() string
	// Open navigates the page to url and waits for its load event.
	Open(ctx context.Context, url string) error
	// Eval evaluates a JavaScript expression in the page, awaiting it if it
	// is a promise, and decodes its value, which must survive JSON.
	Eval(ctx context.Context, expr string, out any) error
	// SetViewport sizes the page's viewport in CSS pixels.
	SetViewport(ctx context.Context, width, height int) error
	// Close ends the browser and removes its profile.
	Close() error
}

// Engines is every engine, in the order tests run them.
var Engines = []string{"chromium", "firefox", "webkit"}

// Start launches a headless browser of the named engine. It returns an
// error saying what to install when the engine is not on this machine.
func Start(ctx context.Context, engine string) (Browser, error) {
	switch engine {
	case "chromium":
		return startChromium(ctx)
	case "firefox":
		return startFirefox(ctx)
	case "webkit":
		return startWebKit(ctx)
	}
	return nil, fmt.Errorf("unknown browser engine %q (want one of %s)", engine, strings.Join(Engines, ", "))
}

// Missing says what is not installed for an engine ("" when it can run).
func Missing(engine string) string {
	need := map[string][]string{
		"chromium": {chromiumpkg.Find()},
		"firefox":  {firefoxPath()},
		"webkit":   {"WebKitWebDriver", "Xvfb"},
	}[engine]
	pkg := map[string]string{"chromium": "chromium", "firefox": "firefox-esr", "webkit": "webkit2gtk-driver xvfb"}[engine]
	for _, b := range need {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Sprintf("%s needs %s (apt-get install %s)", engine, b, pkg)
		}
	}
	return ""
}

// wrap turns an expression into a script whose completion value is the
// expression's awaited value as JSON text, so that every engine hands back
// one string, whatever its own way of serialising values.
func wrap(expr string) string {
	return `(async () => { const v = await (` + expr + `); return JSON.stringify(v === undefined ? null : v); })()`
}

func decode(text string, out any) error {
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(text), out)
}

// env looks an environment variable up, with a default.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
