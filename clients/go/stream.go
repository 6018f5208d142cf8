package castellan

// The streaming calls: Import (NDJSON facts in, one acknowledgement per
// committed batch out), Export, Backup and Restore.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// ErrStopped reports a streamed import or restore that the server stopped
// before the end of its input (too many bad lines, a failed write). The
// StreamResult says why and where to resume.
var ErrStopped = errors.New("castellan: the server stopped the stream")

// ImportOptions configures Import.
type ImportOptions struct {
	// BatchSize is how many facts the server commits at once (0: the
	// server's default, 5000; at most its --max-batch-facts).
	BatchSize int
	// MaxErrors is how many bad lines the server skips, reporting each,
	// before it stops (0: it stops at the first).
	MaxErrors int
	// OnBatch, when set, is called with each committed batch.
	OnBatch func(BatchAck)
	// OnError, when set, is called with each bad line.
	OnError func(LineError)
}

// BatchAck acknowledges one committed batch of a streamed import.
type BatchAck struct {
	// Batch numbers the batches from 1.
	Batch int `json:"batch"`
	// Lines is the range of input lines, first and last, the batch covers
	// (bad lines in it were reported and left out).
	Lines [2]int `json:"lines"`
	// Facts is how many facts the batch inserted (facts already stored
	// count too: inserting them changes nothing).
	Facts int `json:"facts"`
	// Revision is the revision the batch committed.
	Revision uint64 `json:"revision"`
}

// LineError is a bad input line of a streamed import; it was not applied.
type LineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
	Code  string `json:"code"`
}

// StreamResult is the last line of a streamed import or restore.
type StreamResult struct {
	// Done reports whether the whole input was read and applied (bad
	// lines skipped).
	Done bool `json:"done"`
	// Lines is how many input lines the server read.
	Lines int `json:"lines"`
	// Facts is how many facts it committed.
	Facts int `json:"facts"`
	// Errors is how many bad lines it reported.
	Errors int `json:"errors"`
	// Revision is the revision of the last committed batch.
	Revision uint64 `json:"revision"`
	// Message says why the stream stopped (when not Done).
	Message string `json:"message"`
	// Resume is the first input line not applied (when not Done).
	Resume int `json:"resume"`
}

// stream sends body to path and returns the streamed response; a non-2xx
// answer is an *Error.
func (c *Client) stream(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	u := c.baseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctype := ""
	if body != nil {
		ctype = "application/x-ndjson"
	}
	req, reqID, err := c.newRequest(ctx, method, u, body, ctype)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("castellan: %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		if id := resp.Header.Get("X-Request-ID"); id != "" {
			reqID = id
		}
		return nil, decodeError(resp.StatusCode, reqID, resp.Header.Get("Retry-After"), raw)
	}
	return resp, nil
}

// Import streams facts to the server (POST /admin/v1/facts/import): r
// holds one fact per line in the wire format,
// {"predicate":"has_role","args":[{"type":"User","id":"alice"},...]}
// (blank lines are skipped but counted). The server checks each against
// the live policy and commits them in batches, each atomically, calling
// opts.OnBatch for each and opts.OnError for each bad line. Lines are
// numbered from 1. When the server stops early, the error is ErrStopped
// and the result says why and the line to resume from.
func (c *Client) Import(ctx context.Context, r io.Reader, opts ImportOptions) (StreamResult, error) {
	q := url.Values{}
	if opts.BatchSize > 0 {
		q.Set("batch_size", strconv.Itoa(opts.BatchSize))
	}
	if opts.MaxErrors > 0 {
		q.Set("max_errors", strconv.Itoa(opts.MaxErrors))
	}
	resp, err := c.stream(ctx, http.MethodPost, "/admin/v1/facts/import", q, r)
	if err != nil {
		return StreamResult{}, err
	}
	defer resp.Body.Close()
	return c.readAcks(resp, opts.OnBatch, opts.OnError, nil)
}

// readAcks reads the lines of an import's or restore's answer up to the
// last one.
func (c *Client) readAcks(resp *http.Response, onBatch func(BatchAck), onError func(LineError), onSummary func(RestoreSummary)) (StreamResult, error) {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b := sc.Bytes()
		var err error
		switch {
		case bytes.HasPrefix(b, []byte(`{"batch"`)):
			var a BatchAck
			if err = json.Unmarshal(b, &a); err == nil {
				c.noteOffset(strconv.FormatUint(a.Revision, 10))
				if onBatch != nil {
					onBatch(a)
				}
			}
		case bytes.HasPrefix(b, []byte(`{"line"`)):
			var e LineError
			if err = json.Unmarshal(b, &e); err == nil && onError != nil {
				onError(e)
			}
		case bytes.HasPrefix(b, []byte(`{"policies"`)):
			var s RestoreSummary
			if err = json.Unmarshal(b, &s); err == nil && onSummary != nil {
				onSummary(s)
			}
		case bytes.HasPrefix(b, []byte(`{"done"`)):
			var res StreamResult
			if err := json.Unmarshal(b, &res); err != nil {
				return res, fmt.Errorf("castellan: decoding the last line of the stream: %w", err)
			}
			if !res.Done {
				return res, fmt.Errorf("%w: %s", ErrStopped, res.Message)
			}
			return res, nil
		}
		if err != nil {
			return StreamResult{}, fmt.Errorf("castellan: decoding a line of the stream: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return StreamResult{}, fmt.Errorf("castellan: reading the stream: %w", err)
	}
	return StreamResult{}, fmt.Errorf("castellan: the stream ended without its last line")
}

// Export calls fn with every stored fact matching pattern (as Get: an
// empty predicate or argument matches anything), all read at one
// revision, which it returns (GET /admin/v1/facts/export). It streams:
// memory does not grow with the number of facts. An error of fn stops it.
func (c *Client) Export(ctx context.Context, pattern Fact, fn func(Fact) error) (uint64, error) {
	return c.ExportAt(ctx, pattern, nil, fn)
}

// ExportAt is Export that calls onRevision, when not nil, with the
// revision before the first fact.
func (c *Client) ExportAt(ctx context.Context, pattern Fact, onRevision func(uint64) error, fn func(Fact) error) (uint64, error) {
	resp, err := c.stream(ctx, http.MethodGet, "/admin/v1/facts/export", patternQuery(pattern), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return 0, fmt.Errorf("castellan: export: the answer has no header line: %v", sc.Err())
	}
	var head struct {
		Revision *uint64 `json:"revision"`
	}
	if err := json.Unmarshal(sc.Bytes(), &head); err != nil || head.Revision == nil {
		return 0, fmt.Errorf("castellan: export: the first line is not a revision header")
	}
	if onRevision != nil {
		if err := onRevision(*head.Revision); err != nil {
			return *head.Revision, err
		}
	}
	for sc.Scan() {
		var f Fact
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return *head.Revision, fmt.Errorf("castellan: export: decoding a fact: %w", err)
		}
		if err := fn(f); err != nil {
			return *head.Revision, err
		}
	}
	if err := sc.Err(); err != nil {
		return *head.Revision, fmt.Errorf("castellan: export: %w", err)
	}
	return *head.Revision, nil
}

// Backup writes the server's backup stream to w (GET /admin/v1/backup):
// NDJSON holding a header (format, revision, live version), every policy
// version, every API key record (its hash, never a secret) and every fact
// at the header's revision. It returns the bytes written.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.stream(ctx, http.MethodGet, "/admin/v1/backup", nil, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("castellan: backup: %w", err)
	}
	return n, nil
}

// RestoreOptions configures Restore.
type RestoreOptions struct {
	// Force restores into a store that is not empty: its facts are
	// cleared, the backup's policy versions are added as new versions and
	// keys whose id exists are left as they are.
	Force bool
	// OnSummary, when set, is called once the policies and keys are in.
	OnSummary func(RestoreSummary)
	// OnBatch, when set, is called with each committed batch of facts.
	OnBatch func(BatchAck)
}

// RestoreSummary says what a restore did before loading the facts.
type RestoreSummary struct {
	Policies    int   `json:"policies"`
	Keys        int   `json:"keys"`
	KeysSkipped int   `json:"keys_skipped"`
	LiveVersion int64 `json:"live_version"`
}

// Restore loads a backup stream made by Backup (POST /admin/v1/restore)
// into the server's store, which must be empty unless opts.Force.
func (c *Client) Restore(ctx context.Context, r io.Reader, opts RestoreOptions) (StreamResult, error) {
	q := url.Values{}
	if opts.Force {
		q.Set("force", "true")
	}
	resp, err := c.stream(ctx, http.MethodPost, "/admin/v1/restore", q, r)
	if err != nil {
		return StreamResult{}, err
	}
	defer resp.Body.Close()
	return c.readAcks(resp, opts.OnBatch, nil, opts.OnSummary)
}

// patternQuery is the query of GET /api/facts for pattern.
func patternQuery(pattern Fact) url.Values {
	q := url.Values{}
	if pattern.Predicate != "" {
		q.Set("predicate", pattern.Predicate)
	}
	for i, a := range pattern.Args {
		if a.Type != "" {
			q.Set("args."+strconv.Itoa(i)+".type", a.Type)
		}
		if a.ID != "" {
			q.Set("args."+strconv.Itoa(i)+".id", a.ID)
		}
	}
	return q
}
