package drive

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// firefoxPath is Firefox's binary: $PATCHLAB_FIREFOX, or firefox-esr or
// firefox on the PATH.
func firefoxPath() string {
	if p := os.Getenv("PATCHLAB_FIREFOX"); p != "" {
		return p
	}
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return "firefox-esr"
}

// firefoxPrefs keep a test profile quiet: no updates, reports or first-run
// pages. (The remote agent adds its own recommended preferences.)
const firefoxPrefs = `user_pref("app.update.disabledForTesting", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
`

// firefox drives Firefox through WebDriver BiDi, the W3C protocol Firefox
// serves itself on --remote-debugging-port: JSON commands and replies over
// one websocket.
type firefox struct {
	cmd     *exec.Cmd
	profile string
	conn    *websocket.Conn
	context string // the page's browsing context

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan bidiReply
	readErr error
}

type bidiReply struct {
	ID      int             `json:"id"`
	Type    string          `json:"type"` // success, error, event
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

func startFirefox(ctx context.Context) (Browser, error) {
	profile, err := os.MkdirTemp("", "patchlab-firefox-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(firefoxPath(), "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port", "0", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting Firefox: %w", err)
	}
	b := &firefox{cmd: cmd, profile: profile, waiting: map[int]chan bidiReply{}}
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := bidiListening.FindStringSubmatch(sc.Text()); m != nil {
				url <- m[1]
			}
		}
	}()
	select {
	case u := <-url:
		if err := b.connect(ctx, u+"/session"); err != nil {
			b.Close()
			return nil, err
		}
	case <-time.After(2 * time.Minute): // a hang, not a slow start
		b.Close()
		return nil, errors.New("Firefox did not start its WebDriver BiDi server")
	case <-ctx.Done():
		b.Close()
		return nil, ctx.Err()
	}
	return b, nil
}

func (b *firefox) connect(ctx context.Context, url string) error {
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return fmt.Errorf("connecting to Firefox: %w", err)
	}
	conn.SetReadLimit(64 << 20)
	b.conn = conn
	go b.read()
	if err := b.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}, nil); err != nil {
		return err
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := b.call(ctx, "browsingContext.getTree", map[string]any{}, &tree); err != nil {
		return err
	}
	if len(tree.Contexts) == 0 {
		return errors.New("Firefox has no window")
	}
	b.context = tree.Contexts[0].Context
	return nil
}

// read hands each reply to the call waiting for it; events are dropped.
func (b *firefox) read() {
	for {
		_, data, err := b.conn.Read(context.Background())
		if err != nil {
			b.mu.Lock()
			b.readErr = err
			for _, ch := range b.waiting {
				close(ch)
			}
			b.waiting = map[int]chan bidiReply{}
			b.mu.Unlock()
			return
		}
		var r bidiReply
		if json.Unmarshal(data, &r) != nil || r.Type == "event" {
			continue
		}
		b.mu.Lock()
		ch := b.waiting[r.ID]
		delete(b.waiting, r.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

// call sends one command and decodes its result into out (may be nil).
func (b *firefox) call(ctx context.Context, method string, params any, out any) error {
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return fmt.Errorf("Firefox: %w", b.readErr)
	}
	b.nextID++
	id := b.nextID
	ch := make(chan bidiReply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := b.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("Firefox closed the connection during %s", method)
		}
		if r.Type == "error" {
			return fmt.Errorf("Firefox %s: %s: %s", method, r.Error, r.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *firefox) Name() string { return "firefox" }

func (b *firefox) Open(ctx context.Context, url string) error {
	return b.call(ctx, "browsingContext.navigate", map[string]any{"context": b.context, "url": url, "wait": "complete"}, nil)
}

func (b *firefox) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Type   string `json:"type"` // success or exception
		Result struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := b.call(ctx, "script.evaluate", map[string]any{
		"expression": wrap(expr), "target": map[string]any{"context": b.context},
		"awaitPromise": true, "resultOwnership": "none",
	}, &r)
	if err != nil {
		return err
	}
	if r.Type == "exception" {
		return fmt.Errorf("script: %s", r.ExceptionDetails.Text)
	}
	return decode(r.Result.Value, out)
}

func (b *firefox) SetViewport(ctx context.Context, width, height int) error {
	return b.call(ctx, "browsingContext.setViewport", map[string]any{
		"context": b.context, "viewport": map[string]any{"width": width, "height": height},
	}, nil)
}

func (b *firefox) Close() error {
	if b.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b.call(ctx, "browser.close", map[string]any{}, nil)
		cancel()
		b.conn.CloseNow()
	}
	if b.cmd.Process != nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
	return os.RemoveAll(b.profile)
}
