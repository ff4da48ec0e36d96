// Package fetch downloads a GPT-2 checkpoint (and its config.json) from a
// URL, resumably, stopping at the size its header implies and checking the
// sha256 the server states.
package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/patchlab/patchlab/model/safetensors"
)

// DefaultURL is Hugging Face's GPT-2 small checkpoint (548 MB of F32).
const DefaultURL = "https://huggingface.co/openai-community/gpt2/resolve/main/model.safetensors"

// MaxCheckpointBytes caps a download: GPT-2 XL in float32 is 6.4 GB.
const MaxCheckpointBytes = 16 << 30

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

// Result is what Download could check about the file it wrote.
type Result struct {
	SHA256 string // the file's sha256, lowercase hex
	// Stated is the sha256 the server stated for the file (Hugging Face's
	// X-Linked-Etag), which SHA256 equals; "" if it stated none.
	Stated string
}

// Download downloads url to dest through dest+".part", resuming a partial
// download only when the server proves it is the same file (an HTTP
// If-Range with the ETag or Last-Modified of the response that began it)
// and starting over otherwise, retrying a dropped connection a few times.
// It stops at the size the safetensors header implies (at most
// MaxCheckpointBytes) and refuses a server whose sizes disagree with it.
// The result must be a GPT-2 safetensors checkpoint, with the sha256 the
// server stated if it stated one; only then is it renamed to dest.
// progress, if not nil, is called with the bytes on disk and the total
// (-1 while unknown).
func Download(ctx context.Context, url, dest string, progress func(done, total int64)) (Result, error) {
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
			return Result{}, err
		}
		if gained > 0 {
			failures = 0
		}
		if failures++; failures > maxRetries {
			return Result{}, fmt.Errorf("fetch: giving up on %s after %d failed attempts: %w", url, failures, err)
		}
		if err := sleep(ctx, min(retryDelay<<(failures-1), maxRetryDelay)); err != nil {
			return Result{}, err
		}
	}
	res, err := finish(url, part)
	if err != nil {
		removePart(part) // complete but wrong: resuming it cannot help
		return Result{}, err
	}
	if err := os.Rename(part, dest); err != nil {
		return Result{}, fmt.Errorf("fetch: %w", err)
	}
	os.Remove(metaPath(part))
	return res, nil
}

// finish checks a complete part file: a GPT-2 checkpoint, exactly as long
// as its header implies, with the sha256 the server stated.
func finish(url, part string) (Result, error) {
	if err := checkCheckpoint(part); err != nil {
		return Result{}, fmt.Errorf("fetch: %s: %w", url, err)
	}
	f, err := os.Open(part)
	if err != nil {
		return Result{}, fmt.Errorf("fetch: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Result{}, fmt.Errorf("fetch: %w", err)
	}
	res := Result{SHA256: hex.EncodeToString(h.Sum(nil)), Stated: readMeta(part).SHA256}
	if res.Stated != "" && res.Stated != res.SHA256 {
		return Result{}, permanent("fetch: %s: the file downloaded has sha256 %s, but the server stated %s: it was deleted; run the download again", url, res.SHA256, res.Stated)
	}
	return res, nil
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

// meta is what is known of the file a part file began: kept beside it as
// JSON, so that a later run resumes only the same file.
type meta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`          // a strong ETag
	LastModified string `json:"last_modified,omitempty"` // the Last-Modified header
	SHA256       string `json:"sha256,omitempty"`        // as the server stated it
	Size         int64  `json:"size"`                    // as the header implies
}

func metaPath(part string) string { return part + ".json" }

func readMeta(part string) meta {
	var m meta
	if b, err := os.ReadFile(metaPath(part)); err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

func writeMeta(part string, m meta) error {
	b, _ := json.Marshal(m)
	return os.WriteFile(metaPath(part), b, 0o644)
}

// removePart removes a part file and what is known of it.
func removePart(part string) {
	os.Remove(part)
	os.Remove(metaPath(part))
}

// RemovePart removes dest's unfinished download, if any.
func RemovePart(dest string) error {
	for _, name := range []string{dest + ".part", metaPath(dest + ".part")} {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// ifRange is the validator that proves a resumed response is the same file.
func (m meta) ifRange() string {
	if m.ETag != "" {
		return m.ETag
	}
	return m.LastModified
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
	known := readMeta(part)
	if have > 0 && (known.URL != url || known.ifRange() == "" || known.Size < have) {
		// Nothing proves the server still has the same file: start over.
		if err := restartFile(f); err != nil {
			return 0, permanent("fetch: %w", err)
		}
		have = 0
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
		req.Header.Set("If-Range", known.ifRange()) // else the whole file, anew
	}
	stated := ""
	client := *http.DefaultClient
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if s := linkedSHA256(r.Response.Header); s != "" {
			stated = s
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	resp, err := client.Do(req)
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		// No such host, or no network at all: waiting will not help.
		return 0, permanent("fetch: GET %s: %w (no network?)", url, err)
	}
	if err != nil {
		return 0, fmt.Errorf("fetch: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if s := linkedSHA256(resp.Header); s != "" {
		stated = s
	}

	total, restart, err := checkResponse(resp, url, have)
	if !restart && have > 0 && (stated != known.SHA256 || etagChanged(resp.Header, known) || total >= 0 && total != known.Size) {
		err, restart = fmt.Errorf("fetch: GET %s: the file changed on the server since the download began; starting over", url), true
	}
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
	size := known.Size
	if have == 0 {
		var header []byte
		if header, size, err = readHeader(resp.Body, url, total); err != nil {
			return 0, err
		}
		m := meta{URL: url, ETag: strongETag(resp.Header.Get("ETag")), LastModified: resp.Header.Get("Last-Modified"), SHA256: stated, Size: size}
		if err := writeMeta(part, m); err != nil {
			return 0, permanent("fetch: %w", err)
		}
		body = io.MultiReader(bytes.NewReader(header), body)
	}
	progress(have, size)
	var n int64
	_, err = io.Copy(f, readFunc(func(b []byte) (int, error) {
		k, err := body.Read(b[:min(int64(len(b)), size-have-n)])
		if k > 0 {
			watchdog.Reset(stallTimeout)
			n += int64(k)
			progress(have+n, size)
		}
		if err == nil && have+n == size {
			err = io.EOF
		}
		return k, err
	}))
	if err == nil && have+n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, fmt.Errorf("fetch: GET %s: after %d of %d bytes: %w", url, have+n, size, err)
	}
	if extra, _ := io.ReadFull(body, make([]byte, 1)); extra > 0 {
		removePart(part)
		return n, permanent("fetch: GET %s: the server sent more than the %d bytes the file's header implies: not a plain safetensors file", url, size)
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

// linkedSHA256 is the sha256 a Hugging Face response states for the file
// it links to, or "". For a file kept in Git LFS (or Xet), huggingface.co
// answers /resolve/ with a redirect to its CDN carrying X-Linked-Etag: the
// file's sha256, as a quoted ETag of 64 hex digits (Hugging Face describes
// it so in asteroid-team/asteroid#377, and @huggingface/hub's tests expect
// that form; it is not in their API documentation). The CDN's own response
// does not carry it (huggingface/hf-hub#212), so it is read from the
// redirect. For a small file kept in Git the same header holds the blob's
// git sha1 (40 digits), which is not a hash of the content: ignored.
func linkedSHA256(h http.Header) string {
	v := strings.TrimPrefix(strings.TrimSpace(h.Get("X-Linked-Etag")), "W/")
	v = strings.ToLower(strings.Trim(v, `"`))
	if len(v) != 64 {
		return ""
	}
	if _, err := hex.DecodeString(v); err != nil {
		return ""
	}
	return v
}

// strongETag returns etag if it is a strong validator (If-Range allows no
// weak one), else "".
func strongETag(etag string) string {
	if strings.HasPrefix(etag, "W/") || !strings.HasPrefix(etag, `"`) {
		return ""
	}
	return etag
}

// etagChanged says whether a partial response names another ETag than the
// one the download began with.
func etagChanged(h http.Header, known meta) bool {
	got := strongETag(h.Get("ETag"))
	return known.ETag != "" && got != "" && got != known.ETag
}

// checkResponse checks the status and headers of a response to a request
// for url from byte have on. It returns the file's total size (-1 if
// unknown), a total equal to have meaning the file is complete, and whether
// the bytes in hand must be dropped: the body starts at byte 0 (a server
// ignoring Range, or a file that changed), or the range cannot be trusted
// and the next attempt must start from 0.
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

// readHeader reads the safetensors header at the start of a body of total
// bytes (-1 if unknown): an 8-byte little-endian length and a JSON object
// describing the tensors. It returns the bytes read and the file size the
// header implies, which must agree with total and stay within
// MaxCheckpointBytes.
func readHeader(body io.Reader, url string, total int64) ([]byte, int64, error) {
	var start [9]byte
	n, err := io.ReadFull(body, start[:])
	headerLen := binary.LittleEndian.Uint64(start[:8])
	switch {
	case n == len(start) && (headerLen > safetensors.MaxHeaderSize || start[8] != '{'),
		total >= 0 && total < int64(len(start)):
		return nil, 0, permanent("fetch: GET %s: the response does not start like a safetensors file (%q)", url, start[:n])
	case err != nil:
		return nil, 0, fmt.Errorf("fetch: GET %s: %w", url, err)
	}
	header := make([]byte, 8+headerLen)
	copy(header, start[:])
	if _, err := io.ReadFull(body, header[len(start):]); err != nil {
		return nil, 0, fmt.Errorf("fetch: GET %s: reading the safetensors header: %w", url, err)
	}
	f, err := safetensors.Parse(bytes.NewReader(header), 1<<62, url) // sizes are checked below
	if err != nil {
		return nil, 0, permanent("fetch: %w", err)
	}
	size := f.ImpliedSize()
	switch {
	case size > MaxCheckpointBytes:
		return nil, 0, permanent("fetch: GET %s: the file's header implies %d bytes, more than the %d a GPT-2 checkpoint can need", url, size, int64(MaxCheckpointBytes))
	case total >= 0 && total != size:
		return nil, 0, permanent("fetch: GET %s: the server says the file is %d bytes, but its safetensors header implies %d: refusing a download whose size is not the file's", url, total, size)
	}
	return header, size, nil
}
