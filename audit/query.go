package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Outcomes of a decision (Record.Outcome, Query.Result).
const (
	OutcomeAllowed = "allowed"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)

// Outcome is the result of the decision r as a query filters it:
// OutcomeError when it had no answer, OutcomeAllowed or OutcomeDenied for
// a yes/no question, "" for a list, query or batch (see Count).
func (r *Record) Outcome() string {
	switch {
	case r.Error != "":
		return OutcomeError
	case r.Allowed == nil:
		return ""
	case *r.Allowed:
		return OutcomeAllowed
	}
	return OutcomeDenied
}

// ResourceTypeID is the resource of r as a query filters it: the resource
// asked about, or the type a list or search asked for (with no id).
func (r *Record) ResourceTypeID() (typ, id string) {
	if r.Resource.Type != "" {
		return r.Resource.Type, r.Resource.ID
	}
	return r.ResourceType, ""
}

// Query selects decision records, newest first. A zero field matches
// every record.
type Query struct {
	// Since and Until bound the records' times: Since <= time < Until.
	Since, Until time.Time
	// Caller is the API key id (or identity) that asked.
	Caller string
	// Actor and Resource are "Type:id", or "Type" for any id of the type;
	// Resource also matches a batch that asked about the resource.
	Actor, Resource string
	Action          string
	// Result is OutcomeAllowed, OutcomeDenied or OutcomeError.
	Result        string
	PolicyVersion int64
	// Limit is the most records of a page (DefaultLimit when 0, at most
	// MaxLimit).
	Limit int
	// PageToken continues a previous page (Page.NextPageToken).
	PageToken string
}

// ErrBadPageToken is a page token no search returned.
var ErrBadPageToken = errors.New("bad page token: pass the next_page_token of the previous page")

// Page limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of records, newest first.
type Page struct {
	Decisions []Entry
	// NextPageToken continues the search with older records; "" when
	// there are none.
	NextPageToken string

	lastSeq uint64 // of the last record of a file log's page
}

// Entry is one decision record as the log holds it.
type Entry struct {
	// Replica names the chain the record belongs to (PostgreSQL sink);
	// "" for a file log.
	Replica string
	// Line is the record's canonical line.
	Line []byte
}

// Searcher answers queries over a decision log.
type Searcher interface {
	Decisions(ctx context.Context, q Query) (Page, error)
}

// FileLog is a Searcher on the file log at its path (SearchFile).
type FileLog string

// Decisions answers q with SearchFile.
func (f FileLog) Decisions(_ context.Context, q Query) (Page, error) { return SearchFile(string(f), q) }

// Check validates q and applies the default limit.
func (q *Query) Check() error {
	switch q.Result {
	case "", OutcomeAllowed, OutcomeDenied, OutcomeError:
	default:
		return fmt.Errorf("result %q: want %s, %s or %s", q.Result, OutcomeAllowed, OutcomeDenied, OutcomeError)
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return fmt.Errorf("limit %d: want 1 to %d", q.Limit, MaxLimit)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	return nil
}

// SplitTypeID splits "Type:id" (or "Type", with id "").
func SplitTypeID(s string) (typ, id string) {
	typ, id, _ = strings.Cut(s, ":")
	return typ, id
}

// Match reports whether the decision record r is one q asks for (the page
// token and limit aside).
func (q *Query) Match(r *Record) bool {
	if r.Kind != KindDecision ||
		!q.Since.IsZero() && r.Time.Before(q.Since) ||
		!q.Until.IsZero() && !r.Time.Before(q.Until) ||
		q.Caller != "" && r.Caller != q.Caller ||
		q.Action != "" && r.Action != q.Action ||
		q.Result != "" && r.Outcome() != q.Result ||
		q.PolicyVersion != 0 && r.PolicyVersion != q.PolicyVersion {
		return false
	}
	if q.Actor != "" && !matchTypeID(q.Actor, r.Actor.Type, r.Actor.ID) {
		return false
	}
	if q.Resource != "" && !q.matchResource(r) {
		return false
	}
	return true
}

// matchResource reports whether q's resource is the resource of r (see
// ResourceTypeID) or one of the resources of its batch.
func (q *Query) matchResource(r *Record) bool {
	if typ, id := r.ResourceTypeID(); matchTypeID(q.Resource, typ, id) {
		return true
	}
	for _, v := range r.Resources {
		if matchTypeID(q.Resource, v.Type, v.ID) {
			return true
		}
	}
	return false
}

func matchTypeID(want, typ, id string) bool {
	wt, wid := SplitTypeID(want)
	return wt == typ && (wid == "" || wid == id)
}

// maxScan bounds the records one SearchFile call reads: past it, the page
// ends early with a token that continues the scan.
const maxScan = 200_000

// timeSlack is how far out of time order records of one chain may be
// (their times are taken before they are buffered).
const timeSlack = time.Minute

// SearchFile answers q over the file log at path and its rotated files,
// newest record first. A page reads at most maxScan records: a search that
// matches rarely may return a short page with a next page token.
func SearchFile(path string, q Query) (Page, error) {
	if err := q.Check(); err != nil {
		return Page{}, err
	}
	var before uint64 // only records with a smaller seq
	if q.PageToken != "" {
		n, err := strconv.ParseUint(q.PageToken, 10, 64)
		if err != nil || n == 0 {
			return Page{}, ErrBadPageToken
		}
		before = n
	}
	rotated, err := RotatedFiles(path)
	if err != nil {
		return Page{}, err
	}
	slices.Reverse(rotated)
	files := append([]string{path}, rotated...)
	var page Page
	scanned := 0
	for _, name := range files {
		if name != path && before != 0 {
			// A rotated file is named by its first record's seq.
			if first, _ := strconv.ParseUint(name[len(path)+1:], 10, 64); first >= before {
				continue
			}
		}
		done, err := searchOne(name, &q, before, &page, &scanned)
		if err != nil || done {
			return page, err
		}
	}
	return page, nil
}

// searchOne adds the records of one file that q matches to page, newest
// first; done when the page is full or the search is over.
func searchOne(name string, q *Query, before uint64, page *Page, scanned *int) (done bool, err error) {
	bl, err := openBackLines(name)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer bl.f.Close()
	for {
		text, err := bl.prev()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		seq := seqOf(text)
		if seq == 0 || before != 0 && seq >= before {
			continue
		}
		if *scanned >= maxScan {
			page.NextPageToken = strconv.FormatUint(seq+1, 10)
			return true, nil
		}
		*scanned++
		var r Record
		if json.Unmarshal(text, &r) != nil {
			continue
		}
		if !q.Since.IsZero() && r.Time.Before(q.Since.Add(-timeSlack)) {
			return true, nil
		}
		if !q.Match(&r) {
			continue
		}
		if len(page.Decisions) == q.Limit {
			page.NextPageToken = strconv.FormatUint(page.lastSeq, 10)
			return true, nil
		}
		page.Decisions = append(page.Decisions, Entry{Line: bytes.Clone(text)})
		page.lastSeq = seq
	}
}

// backLines reads the lines of a file from the last to the first.
type backLines struct {
	f    *os.File
	size int64
	off  int64 // what is before buf in the file
	buf  []byte
	done bool
}

func openBackLines(path string) (*backLines, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &backLines{f: f, size: st.Size(), off: st.Size()}, nil
}

// prev returns the line before the last one returned, without its newline
// (an incomplete last line as it is); io.EOF before the first.
func (b *backLines) prev() ([]byte, error) {
	for {
		if i := bytes.LastIndexByte(b.buf, '\n'); i >= 0 {
			line := b.buf[i+1:]
			b.buf = b.buf[:i]
			return line, nil
		}
		if b.off == 0 {
			if b.done || len(b.buf) == 0 {
				return nil, io.EOF
			}
			line := b.buf
			b.buf, b.done = nil, true
			return line, nil
		}
		n := min(64<<10, b.off)
		b.off -= n
		chunk := make([]byte, n, int(n)+len(b.buf))
		if _, err := b.f.ReadAt(chunk, b.off); err != nil {
			return nil, err
		}
		if b.off+n == b.size && chunk[n-1] == '\n' {
			chunk = chunk[:n-1] // the file's last newline ends the last line
		}
		b.buf = append(chunk, b.buf...)
	}
}
