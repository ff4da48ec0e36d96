package drive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// webkit drives WebKitGTK's MiniBrowser through WebKitWebDriver, classic
// W3C WebDriver: JSON over plain HTTP. MiniBrowser needs a display, so an
// Xvfb server of its own runs beside it.
type webkit struct {
	xvfb, driver *exec.Cmd
	base         string // http://127.0.0.1:port/session/<id>
	tmp          string
}

// miniBrowser is WebKitGTK's MiniBrowser, which WebKitWebDriver automates.
func miniBrowser() string {
	if p := os.Getenv("PATCHLAB_MINIBROWSER"); p != "" {
		return p
	}
	for _, dir := range []string{"webkit2gtk-4.1", "webkit2gtk-4.0", "webkitgtk-6.0"} {
		for _, lib := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"} {
			p := filepath.Join(lib, dir, "MiniBrowser")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return "MiniBrowser"
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startWebKit(ctx context.Context) (Browser, error) {
	tmp, err := os.MkdirTemp("", "patchlab-webkit-")
	if err != nil {
		return nil, err
	}
	b := &webkit{tmp: tmp}
	// MiniBrowser now and then fails to come up on a busy machine (the
	// session request then waits forever), and now and then cannot open
	// the display its Xvfb gave: each attempt has its own limit, and a
	// failed one starts the driver and its Xvfb again.
	var root, id string
	for attempt := 1; ; attempt++ {
		var display string
		if display, err = b.startXvfb(); err != nil {
			b.Close()
			return nil, err
		}
		root, id, err = b.session(ctx, display)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			break
		}
		for _, c := range []*exec.Cmd{b.driver, b.xvfb} {
			if c != nil && c.Process != nil {
				c.Process.Kill()
				c.Wait()
			}
		}
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("WebKitWebDriver: no session: %w", err)
	}
	b.base = root + "/session/" + id
	if err := post(ctx, b.base+"/timeouts", map[string]any{"script": 10 * 60 * 1000, "pageLoad": 5 * 60 * 1000}, nil); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// startXvfb starts an X server of the driver's own: -displayfd tells which
// display number it took.
func (b *webkit) startXvfb() (display string, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	b.xvfb = exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1600x1200x24", "-nolisten", "tcp")
	b.xvfb.ExtraFiles = []*os.File{w}
	err = b.xvfb.Start()
	w.Close()
	if err != nil {
		b.xvfb = nil
		return "", fmt.Errorf("starting Xvfb: %w", err)
	}
	buf := make([]byte, 16)
	n, err := r.Read(buf)
	if err != nil {
		return "", fmt.Errorf("Xvfb gave no display: %w", err)
	}
	return ":" + string(bytes.TrimSpace(buf[:n])), nil
}

// session starts WebKitWebDriver on display and opens a session with
// MiniBrowser, within 90 seconds.
func (b *webkit) session(ctx context.Context, display string) (root, id string, err error) {
	port, err := freePort()
	if err != nil {
		return "", "", err
	}
	var logs bytes.Buffer
	b.driver = exec.Command("WebKitWebDriver", "--port="+strconv.Itoa(port))
	b.driver.Env = append(os.Environ(), "DISPLAY="+display, "XDG_RUNTIME_DIR="+b.tmp, "HOME="+b.tmp)
	b.driver.Stderr = &logs
	if err := b.driver.Start(); err != nil {
		return "", "", fmt.Errorf("starting WebKitWebDriver: %w", err)
	}
	root = fmt.Sprintf("http://127.0.0.1:%d", port)
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"webkitgtk:browserOptions": map[string]any{"binary": miniBrowser(), "args": []string{"--automation"}},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second) // a hang, not a slow start
	defer cancel()
	for {
		err = post(ctx, root+"/session", caps, &sess)
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // the driver is still starting
	}
	if err != nil {
		return "", "", fmt.Errorf("%w (driver: %.300s)", err, logs.String())
	}
	return root, sess.SessionID, nil
}

// post sends a WebDriver command and decodes the reply's value into out.
func post(ctx context.Context, url string, body, out any) error {
	return request(ctx, http.MethodPost, url, body, out)
}

func request(ctx context.Context, method, url string, body, out any) error {
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var reply struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return fmt.Errorf("%s: %s", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Message string }
		json.Unmarshal(reply.Value, &e)
		return fmt.Errorf("%s: %s", e.Error, e.Message)
	}
	if out != nil {
		return json.Unmarshal(reply.Value, out)
	}
	return nil
}

func (b *webkit) Name() string { return "webkit" }

func (b *webkit) Open(ctx context.Context, url string) error {
	return post(ctx, b.base+"/url", map[string]any{"url": url}, nil)
}

func (b *webkit) Eval(ctx context.Context, expr string, out any) error {
	script := `const done = arguments[arguments.length - 1];
		(` + wrap(expr) + `).then((v) => done({ ok: v }), (e) => done({ err: String(e && e.stack || e) }));`
	var r struct {
		OK  *string `json:"ok"`
		Err string  `json:"err"`
	}
	if err := post(ctx, b.base+"/execute/async", map[string]any{"script": script, "args": []any{}}, &r); err != nil {
		return err
	}
	if r.OK == nil {
		return fmt.Errorf("script: %s", r.Err)
	}
	return decode(*r.OK, out)
}

// SetViewport sizes the window so that its viewport has the size asked:
// WebDriver sizes the outer window, so the frame's size is measured and
// added.
func (b *webkit) SetViewport(ctx context.Context, width, height int) error {
	for range 2 {
		var inner [2]int
		if err := b.Eval(ctx, `[innerWidth, innerHeight]`, &inner); err != nil {
			return err
		}
		var rect struct{ Width, Height int }
		if err := request(ctx, http.MethodGet, b.base+"/window/rect", nil, &rect); err != nil {
			return err
		}
		if inner[0] == width && inner[1] == height {
			return nil
		}
		want := map[string]any{"width": width + rect.Width - inner[0], "height": height + rect.Height - inner[1]}
		if err := post(ctx, b.base+"/window/rect", want, nil); err != nil {
			return err
		}
	}
	var inner [2]int
	if err := b.Eval(ctx, `[innerWidth, innerHeight]`, &inner); err != nil {
		return err
	}
	if inner[0] != width {
		return errors.New("webkit: the window cannot be sized to a " + strconv.Itoa(width) + " px viewport")
	}
	return nil
}

func (b *webkit) Close() error {
	if b.base != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		request(ctx, http.MethodDelete, b.base, nil, nil)
		cancel()
	}
	for _, c := range []*exec.Cmd{b.driver, b.xvfb} {
		if c != nil && c.Process != nil {
			c.Process.Kill()
			c.Wait()
		}
	}
	return os.RemoveAll(b.tmp)
}
