package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress shows how far a long job is on stderr: a bar redrawn in place on
// a terminal, otherwise a line now and then (every 10 s and at the end).
type progress struct {
	w      io.Writer
	tty    bool
	unit   func(n int64) string // formats done and total
	mu     sync.Mutex
	label  string
	start  time.Time
	last   time.Time // last redraw or line
	drawn  bool      // a bar is on the terminal's current line
	linesN int64     // done at the last line (non-terminal)
}

func newProgress(w io.Writer, unit func(int64) string) *progress {
	return &progress{w: w, tty: isTerminal(w), unit: unit, start: time.Now()}
}

func cellsUnit(n int64) string { return fmt.Sprintf("%d", n) }

func bytesUnit(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update reports done of total under label.
func (p *progress) update(label string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	finished := total > 0 && done >= total
	if label != p.label {
		if p.tty && p.drawn {
			fmt.Fprintln(p.w) // keep the finished stage's line
		}
		p.label = label
		p.start, p.linesN = now, -1
	}
	if p.tty {
		if !finished && now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(done, total, now, true))
		p.drawn = true
	} else {
		if done == p.linesN || (!finished && now.Sub(p.last) < 10*time.Second) {
			return
		}
		fmt.Fprintln(p.w, p.line(done, total, now, false))
		p.linesN = done
	}
	p.last = now
}

// done ends the bar's line on a terminal.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *progress) line(done, total int64, now time.Time, bar bool) string {
	elapsed := now.Sub(p.start)
	var b strings.Builder
	b.WriteString(p.label)
	if bar && total > 0 {
		const width = 30
		n := int(int64(width) * min(done, total) / total)
		fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", n), strings.Repeat(".", width-n))
	}
	if total > 0 {
		fmt.Fprintf(&b, " %s/%s", p.unit(done), p.unit(total))
	} else {
		fmt.Fprintf(&b, " %s", p.unit(done))
	}
	fmt.Fprintf(&b, "  %s elapsed", fmtDuration(elapsed))
	if total > 0 && done*20 >= total && done < total { // from 5%: early rows are no guide
		eta := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
		fmt.Fprintf(&b, "  ETA %s", fmtDuration(eta))
	}
	return b.String()
}

func fmtDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
