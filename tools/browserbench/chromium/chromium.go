// Package chromium finds and starts the headless Chromium that the browser
// bench and the browser tests drive.
package chromium

import (
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// Find is the Chromium (or Chrome) to drive: $PATCHLAB_CHROMIUM, else the
// first of chromium, chromium-browser, google-chrome on the PATH, else
// /usr/bin/chromium (Debian's), which may not exist.
func Find() string {
	if p := os.Getenv("PATCHLAB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return "/usr/bin/chromium"
}

// AllocatorOptions starts chromium headless with a fresh profile in
// profile and none of its own network traffic (no sandbox: it runs as root
// in containers and CI).
func AllocatorOptions(chromium, profile string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	)
}
