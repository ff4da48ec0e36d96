// Package fetch downloads a GPT-2 checkpoint and converts it to the web
// format.
package fetch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultURL is Hugging Face's GPT-2 small checkpoint (548 MB of F32).
const DefaultURL = "https://huggingface.co/openai-community/gpt2/resolve/main/model.safetensors"

// Retry policy: a failed attempt that received no bytes counts against
// maxRetries; one that made progress resets the count. Waits double from
// retryDelay up to maxRetryDelay. An attempt that receives nothing for
// stallTimeout is abandoned and retried.
var (
	maxRetries    = 5
	retryDelay    = 500 * time.Millisecond
	maxRetryDelay = 10 * time.Second
	stallTimeout  = 60 * time.Second
)

// Download downloads url to dest through dest+".part", resuming a partial
// download with an HTTP Range request and retrying a dropped connection a
// few times. The result must be a GPT-2 safetensors checkpoint; only then is
// it renamed to dest. progress, if not nil, is called with the bytes on disk
// and the total (-1 while unknown).
func Download(ctx context.Context, url, dest string, progress func(done, total int64)) error {
	part := dest + ".part"
	if progress == nil {
		progress = func(done, total int64) {}
	}
	for failures := 0; ; {
		gained, err := attempt(ctx, url, part, progress)
		if err == nil {
			break
		}
		var perm *permanentError
		if errors.As(err, &perm) || ctx.Err() != nil {
			return err
		}
		if gained > 0 {
			failures = 0
		}
		if failures++; failures > maxRetries {
			return fmt.Errorf("fetch: giving up on %s after %d failed attempts: %w", url, failures, err)
		}
		if err := sleep(ctx, min(retryDelay<<(failures-1), maxRetryDelay)); err != nil {
			return err
		}
	}
	if err := checkCheckpoint(part); err != nil {
		os.Remove(part) // complete but wrong: resuming it cannot help
		return fmt.Errorf("fetch: %s: %w", url, err)
	}
	if err := os.Rename(part, dest); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt makes one request for the rest of url after the bytes already in
// part and appends the response to part. It returns how many bytes it added.
func attempt(ctx context.Context, url, part string, progress func(done, total int64)) (int64, error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, permanent("fetch: %w", err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, permanent("fetch: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(stallTimeout, cancel)
	defer watchdog.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, permanent("fetch: %w", err)
	}
	req.Header.Set("Accept-Encoding", "identity") // byte ranges of the file itself
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := http.DefaultClient.Do(req)
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		// No such host, or no network at all: waiting will not help.
		return 0, permanent("fetch: GET %s: %w (no network?)", url, err)
	}
	if err != nil {
		return 0, fmt.Errorf("fetch: GET %s: %w", url, err)
	}
	defer resp.Body.Close()

	total, restart, err := checkResponse(resp, url, have)
	if restart {
		if err := restartFile(f); err != nil {
			return 0, permanent("fetch: %w", err)
		}
		have = 0
	}
	if err != nil || total == have {
		return 0, err
	}
	body := io.Reader(resp.Body)
	if have == 0 {
		if body, err = checkStart(resp.Body, url, total); err != nil {
			return 0, err
		}
	}
	progress(have, total)
	var n int64
	_, err = io.Copy(f, readFunc(func(b []byte) (int, error) {
		k, err := body.Read(b)
		if k > 0 {
			watchdog.Reset(stallTimeout)
			n += int64(k)
			progress(have+n, total)
		}
		return k, err
	}))
	if err == nil && total >= 0 && have+n != total {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, fmt.Errorf("fetch: GET %s: after %d of %d bytes: %w", url, have+n, total, err)
	}
	return n, f.Sync()
}

func restartFile(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

type readFunc func([]byte) (int, error)

func (r readFunc) Read(b []byte) (int, error) { return r(b) }

// checkResponse checks the status and headers of a response to a request
// for url from byte have on. It returns the file's total size (-1 if
// unknown), a total equal to have meaning the file is complete, and whether
// the bytes in hand must be dropped: the body starts at byte 0 (a server
// ignoring Range), or the range cannot be trusted and the next attempt must
// start from 0.
func checkResponse(resp *http.Response, url string, have int64) (total int64, restart bool, err error) {
	status := resp.Status
	switch code := resp.StatusCode; {
	case code == http.StatusRequestedRangeNotSatisfiable && have > 0:
		if _, _, size, ok := contentRange(resp.Header.Get("Content-Range")); ok && size == have {
			return have, false, nil
		}
		return 0, true, fmt.Errorf("fetch: GET %s: %s for bytes %d on", url, status, have)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return 0, false, fmt.Errorf("fetch: GET %s: %s", url, status)
	case code != http.StatusOK && code != http.StatusPartialContent:
		return 0, false, permanent("fetch: GET %s: %s", url, status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" {
		return 0, false, permanent("fetch: GET %s: the server sent an HTML page (%s), not a safetensors file", url, status)
	}
	if resp.StatusCode == http.StatusOK { // the whole file, even if we asked for a range
		return resp.ContentLength, true, nil
	}
	first, last, size, ok := contentRange(resp.Header.Get("Content-Range"))
	if !ok || first != have || resp.ContentLength >= 0 && resp.ContentLength != last-first+1 || size >= 0 && last != size-1 {
		return 0, true, fmt.Errorf("fetch: GET %s: Content-Range %q does not answer a request for bytes %d on",
			url, resp.Header.Get("Content-Range"), have)
	}
	return size, false, nil
}

// contentRange parses "bytes first-last/size" (size -1 for "*") and
// "bytes */size" (first and last -1).
func contentRange(s string) (first, last, size int64, ok bool) {
	spec, found := strings.CutPrefix(s, "bytes ")
	rng, sz, found2 := strings.Cut(spec, "/")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	size = -1
	if sz != "*" {
		var err error
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
			return 0, 0, 0, false
		}
	}
	if rng == "*" {
		return -1, -1, size, size >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !found || err1 != nil || err2 != nil || first < 0 || last < first || size >= 0 && last >= size {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

// checkStart reads the first bytes of a body of total bytes (-1 if unknown)
// that should be a safetensors file: an 8-byte little-endian header length
// and a JSON object. It returns a reader of the whole body.
func checkStart(body io.Reader, url string, total int64) (io.Reader, error) {
	const maxHeader = 100 << 20 // safetensors.MaxHeaderSize
	var start [9]byte
	n, err := io.ReadFull(body, start[:])
	switch {
	case n == len(start) && (binary.LittleEndian.Uint64(start[:8]) > maxHeader || start[8] != '{'),
		total >= 0 && total < int64(len(start)):
		return nil, permanent("fetch: GET %s: the response does not start like a safetensors file (%q)", url, start[:n])
	case err != nil:
		return nil, fmt.Errorf("fetch: GET %s: %w", url, err)
	}
	return io.MultiReader(bytes.NewReader(start[:]), body), nil
}
