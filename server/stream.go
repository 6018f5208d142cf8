package server

// The streaming endpoints: import (NDJSON facts in, one acknowledgement
// per committed batch out), export (every fact matching a pattern at one
// revision) and, in backup.go, backup and restore. Their bodies are not
// capped by MaxBodyBytes (limitBody skips them): each line is, by
// maxStreamLine, and each batch by MaxBatchFacts.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// The streaming routes (see limitBody).
const (
	routeImport  = "/admin/v1/facts/import"
	routeExport  = "/admin/v1/facts/export"
	routeBackup  = "/admin/v1/backup"
	routeRestore = "/admin/v1/restore"
)

// streamed reports whether path is a streaming route, whose body limitBody
// leaves uncapped.
func streamed(path string) bool { return path == routeImport || path == routeRestore }

const (
	// maxStreamLine bounds one line of a streamed body: a fact of 64
	// arguments of MaxArgBytes each, escaped, fits with room to spare.
	maxStreamLine = 256 << 10
	// defaultStreamBatch is the batch size of an import that names none.
	defaultStreamBatch = 5000
	// streamDeadline is how long a streamed request may go without
	// progress (it extends the listener's read and write timeouts).
	streamDeadline = 2 * time.Minute
)

// streamAck is the line that acknowledges one committed batch.
type streamAck struct {
	Batch    int    `json:"batch"`
	Lines    [2]int `json:"lines"`
	Facts    int    `json:"facts"`
	Revision uint64 `json:"revision"`
}

// streamLineError is the line that reports a bad input line; it was not
// applied.
type streamLineError struct {
	Line    int    `json:"line"`
	Error   string `json:"error"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// streamDone is the last line of a stream: done is false when it stopped
// early (too many errors, a failed write), and then Message says why and
// Resume is the first input line not applied.
type streamDone struct {
	Done     bool   `json:"done"`
	Lines    int    `json:"lines"`
	Facts    int    `json:"facts"`
	Errors   int    `json:"errors"`
	Revision uint64 `json:"revision"`
	Message  string `json:"message,omitempty"`
	Resume   int    `json:"resume,omitempty"`
}

// lineReader reads a streamed body line by line, bounded per line and
// counting lines from 1.
type lineReader struct {
	br     *bufio.Reader
	line   int
	long   bytes.Buffer
	back   []byte // a line given back by unread
	isBack bool
}

// unread makes the next call of next return b (the line it last
// returned) again, under the same line number.
func (lr *lineReader) unread(b []byte) {
	lr.back = append(lr.back[:0], b...)
	lr.isBack = true
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its end (valid until the next call),
// errTooLong (the line was skipped) or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	if lr.isBack {
		lr.isBack = false
		return lr.back, nil
	}
	lr.long.Reset()
	for {
		b, err := lr.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if lr.long.Len()+len(b) > maxStreamLine {
				lr.line++
				return nil, lr.skip()
			}
			lr.long.Write(b)
			continue
		}
		if err == io.EOF && len(b) == 0 && lr.long.Len() == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		lr.line++
		if lr.long.Len() > 0 {
			lr.long.Write(b)
			b = lr.long.Bytes()
		}
		if len(b) > maxStreamLine {
			return nil, errTooLong
		}
		return bytes.TrimRight(b, "\r\n"), nil
	}
}

// skip discards the rest of an overlong line.
func (lr *lineReader) skip() error {
	for {
		_, err := lr.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		return errTooLong
	}
}

// errTooLong reports a streamed line longer than maxStreamLine.
var errTooLong = errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "line exceeds the limit of %d bytes", maxStreamLine)

// lineWriter writes NDJSON lines to a streamed response, flushing each
// acknowledgement, and extends the connection's deadlines as it goes.
type lineWriter struct {
	bw  *bufio.Writer
	rc  *http.ResponseController
	err error
}

func newLineWriter(w http.ResponseWriter) *lineWriter {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // HTTP/1: read the body while answering
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	lw := &lineWriter{bw: bufio.NewWriterSize(w, 64<<10), rc: rc}
	lw.extend()
	return lw
}

// extend pushes the connection's deadlines streamDeadline ahead.
func (lw *lineWriter) extend() {
	t := time.Now().Add(streamDeadline)
	_ = lw.rc.SetReadDeadline(t)
	_ = lw.rc.SetWriteDeadline(t)
}

// write encodes v as one line (buffered).
func (lw *lineWriter) write(v any) {
	if lw.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		lw.err = err
		return
	}
	lw.bw.Write(b)
	lw.err = lw.bw.WriteByte('\n')
}

// flush sends what was written and extends the deadlines.
func (lw *lineWriter) flush() {
	if lw.err == nil {
		lw.err = lw.bw.Flush()
	}
	if lw.err == nil {
		lw.err = lw.rc.Flush()
	}
	lw.extend()
}

// lineFault is the streamLineError for err on line n.
func lineFault(n int, err error) streamLineError {
	ae := toAPIError(err)
	return streamLineError{Line: n, Error: ae.Message, Code: ae.Code, Message: fmt.Sprintf("line %d: %s", n, ae.Message)}
}

// intParam reads a positive integer query parameter, def when absent.
func intParam(r *http.Request, name string, def, limit int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > limit {
		return 0, badRequest("query parameter %s: %q is not a number from 0 to %d", name, s, limit)
	}
	return n, nil
}

// factLoader applies streamed facts in batches. The request's goroutine
// reads and decodes lines and, on a store that can take a prepared batch
// (store.PreparedWriter), validates each batch against the policy; a
// second goroutine (the committer) writes the batches, the bad lines'
// reports and the acknowledgements in input order. So the next batch is
// read and checked while the previous one is applied, on two cores; each
// batch is still committed whole or not at all, and nothing after a batch
// that failed is applied.
type factLoader struct {
	st        store.Store
	validator func() store.WriteOption // nil: facts are stored as they are (restore)
	batchSize int
	maxErrors int
	seen      func(rev uint64)

	out  *lineWriter
	done streamDone

	// Read by the reader only.
	errors  int        // bad lines so far
	pending *loadBatch // the batch being filled
	work    chan loadItem
	spare   chan *loadBatch // batches the committer is done with, to reuse
	prep    store.PreparedWriter
	prepare func([]store.Op, ...store.WriteOption) (store.Prepared, error) // the store's PrepareBatch, if it has one

	// Set by the committer, read by the reader once the committer ended
	// (or as a hint, stop, while it runs).
	stop    atomic.Bool // the committer failed: read no further
	next    int         // the first input line not applied
	failure error       // why the committer stopped
	batches int         // batches committed
}

// loadBatch is a batch of facts with the input line of each.
type loadBatch struct {
	facts []term.Fact
	lines []int
	first int // the batch's first input line, bad ones included
	last  int // and its last
	// prepared holds the batch validated by the reader, when the store is
	// a PreparedWriter.
	prepared store.Prepared
	isPrep   bool
}

// loadItem is what the reader hands the committer, in input order: a bad
// line to report, or a batch to commit.
type loadItem struct {
	fault *streamLineError
	batch *loadBatch
}

// errStopStream ends a load that already reported why.
var errStopStream = errors.New("stream stopped")

// run reads facts from lr until its end and commits them in batches. It
// writes the last line itself.
func (l *factLoader) run(ctx context.Context, lr *lineReader) {
	l.next = lr.line + 1
	l.work = make(chan loadItem, 1) // so at most three batches are held
	l.spare = make(chan *loadBatch, 2)
	l.prep, _ = l.st.(store.PreparedWriter)
	l.prepare = store.PrepareBatch
	if bp, ok := l.st.(store.BatchPreparer); ok {
		l.prepare = bp.PrepareBatch
	}
	l.pending = &loadBatch{first: lr.line + 1}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		l.commitAll(ctx)
	}()
	err := l.read(ctx, lr)
	if err == nil {
		l.pending.last = lr.line
		err = l.send(ctx)
	}
	close(l.work)
	<-finished
	l.done.Lines = lr.line
	switch {
	case l.failure != nil:
		if !errors.Is(l.failure, errStopStream) {
			l.done.Message = toAPIError(l.failure).Message
		}
		l.done.Resume = l.next
	case err != nil:
		if errors.Is(err, errStopStream) {
			l.done.Message = fmt.Sprintf("stopped after %d bad lines (max_errors is %d); nothing from line %d on was applied", l.done.Errors, l.maxErrors, l.next)
		} else {
			l.done.Message = toAPIError(err).Message
		}
		l.done.Resume = l.next
	default:
		l.done.Done = true
	}
	l.out.write(l.done)
	l.out.flush()
}

func (l *factLoader) read(ctx context.Context, lr *lineReader) error {
	dec := newFactDecoder()
	for {
		b, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err == nil && len(bytes.TrimSpace(b)) == 0 {
			continue // blank lines are allowed (and counted)
		}
		var f term.Fact
		if err == nil {
			f, err = dec.decode(b)
		}
		if err != nil {
			if !errors.Is(err, errTooLong) {
				if _, ok := errors.AsType[*apiError](err); !ok {
					return err // reading the body failed
				}
			}
			if err := l.fail(lineFault(lr.line, err)); err != nil {
				return err
			}
			continue
		}
		p := l.pending
		p.facts = append(p.facts, f)
		p.lines = append(p.lines, lr.line)
		if len(p.facts) >= l.batchSize {
			p.last = lr.line
			if err := l.send(ctx); err != nil {
				return err
			}
		}
	}
}

// fail reports one bad line found by the reader and stops the load past
// maxErrors.
func (l *factLoader) fail(e streamLineError) error {
	l.errors++
	l.work <- loadItem{fault: &e}
	if l.errors > l.maxErrors {
		return errStopStream
	}
	return nil
}

// send validates the pending batch (on a PreparedWriter: a fact the policy
// refuses is reported with its line and left out) and hands it to the
// committer, then starts the next one.
func (l *factLoader) send(ctx context.Context) error {
	if l.stop.Load() {
		return errStopStream
	}
	p := l.pending
	if l.prep != nil && len(p.facts) > 0 {
		for {
			var err error
			p.prepared, err = l.prepare([]store.Op{{Insert: p.facts}}, l.options()...)
			if fe, ok := errors.AsType[*store.InvalidFactError](err); ok && fe.Index < len(p.facts) {
				if err := l.fail(p.refuse(fe)); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			p.isPrep = true
			break
		}
	}
	l.work <- loadItem{batch: p}
	var nb *loadBatch
	select {
	case nb = <-l.spare:
		nb.facts, nb.lines = nb.facts[:0], nb.lines[:0]
		nb.prepared, nb.isPrep = store.Prepared{}, false
	default:
		nb = &loadBatch{facts: make([]term.Fact, 0, l.batchSize), lines: make([]int, 0, l.batchSize)}
	}
	nb.first = p.last + 1
	l.pending = nb
	return ctx.Err()
}

// refuse removes the fact fe names from the batch and returns the report
// of its line.
func (p *loadBatch) refuse(fe *store.InvalidFactError) streamLineError {
	line := p.lines[fe.Index]
	p.facts = append(p.facts[:fe.Index], p.facts[fe.Index+1:]...)
	p.lines = append(p.lines[:fe.Index], p.lines[fe.Index+1:]...)
	ae := toAPIError(fe)
	return streamLineError{Line: line, Error: fmt.Sprintf("invalid fact %s: %v", fe.Fact, fe.Err), Code: ae.Code,
		Message: fmt.Sprintf("line %d: invalid fact %s: %v", line, fe.Fact, fe.Err)}
}

// options returns the write options of a batch: the live policy's check.
func (l *factLoader) options() []store.WriteOption {
	if l.validator == nil {
		return nil
	}
	return []store.WriteOption{l.validator()}
}

// commitAll is the committer: it reports bad lines and commits batches as
// they come, until the reader closes work. After a failure it applies
// nothing more (and drains work, so the reader never blocks).
func (l *factLoader) commitAll(ctx context.Context) {
	for it := range l.work {
		if l.failure != nil {
			continue
		}
		l.handle(ctx, it)
	}
}

// handle reports or commits one item. A panic (which the request's
// recoverer cannot catch on this goroutine) fails the load instead of the
// process.
func (l *factLoader) handle(ctx context.Context, it loadItem) {
	defer func() {
		if r := recover(); r != nil {
			l.failure = fmt.Errorf("internal error applying a batch: %v", r)
			l.stop.Store(true)
		}
	}()
	if it.fault != nil {
		l.done.Errors++
		l.out.write(*it.fault)
		if l.done.Errors > l.maxErrors {
			l.failure = l.tooMany(l.next)
			l.stop.Store(true)
		}
		return
	}
	if err := l.commit(ctx, it.batch); err != nil {
		l.failure = err
		l.stop.Store(true)
		return
	}
	select {
	case l.spare <- it.batch:
	default:
	}
}

// commit writes one batch atomically. A fact the store refuses is
// reported with its line and left out, and the rest of the batch is tried
// again, so a batch commits whole or not at all.
func (l *factLoader) commit(ctx context.Context, b *loadBatch) error {
	for {
		if len(b.facts) == 0 {
			l.next = b.last + 1 // only bad lines (reported) or none
			return nil
		}
		var rev store.Revision
		var err error
		if b.isPrep {
			rev, err = l.prep.WritePrepared(ctx, b.prepared)
		} else {
			rev, err = l.st.Write(ctx, []store.Op{{Insert: b.facts}}, l.options()...)
		}
		if fe, ok := errors.AsType[*store.InvalidFactError](err); ok && fe.Index < len(b.facts) && !b.isPrep {
			l.done.Errors++
			l.out.write(b.refuse(fe))
			if l.done.Errors > l.maxErrors {
				return l.tooMany(b.first)
			}
			continue
		}
		if err != nil {
			return err
		}
		l.seen(rev)
		l.done.Facts += len(b.facts)
		l.done.Revision = rev
		l.out.write(streamAck{Batch: l.batchNo(), Lines: [2]int{b.first, b.last}, Facts: len(b.facts), Revision: rev})
		l.out.flush()
		if l.out.err != nil {
			return l.out.err
		}
		l.next = b.last + 1
		return nil
	}
}

// batchNo counts the committed batches.
func (l *factLoader) batchNo() int {
	l.batches++
	return l.batches
}

// tooMany is the error of a load stopped by the committer past
// max_errors, nothing from line first on applied.
func (l *factLoader) tooMany(first int) error {
	l.done.Message = fmt.Sprintf("stopped after %d bad lines (max_errors is %d); nothing from line %d on was applied", l.done.Errors, l.maxErrors, first)
	return errStopStream
}

// handleImport is POST /admin/v1/facts/import: NDJSON facts (the wire
// format, one per line) inserted in batches of batch_size, each checked
// against the live policy and committed atomically; bad lines are
// reported and skipped, up to max_errors.
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	size, err := intParam(r, "batch_size", min(defaultStreamBatch, s.cfg.MaxBatchFacts), s.cfg.MaxBatchFacts)
	if err == nil && size == 0 {
		err = badRequest("query parameter batch_size must be at least 1")
	}
	var maxErrors int
	if err == nil {
		maxErrors, err = intParam(r, "max_errors", 0, 1<<30)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	l := &factLoader{st: s.store, batchSize: size, maxErrors: maxErrors, seen: s.seeRevision,
		validator: func() store.WriteOption { return store.WithValidator(sameTypesPass(s.policies.Live().FactValidator())) }}
	l.out = newLineWriter(w)
	l.run(r.Context(), newLineReader(r.Body))
}

// sameTypesPass wraps a policy's fact check (lang.Program.CheckFact, which
// looks at a fact's predicate, arity and argument types only) so that a
// fact with the same predicate and argument types as the last one that
// passed passes without checking again: an import's facts come in long
// runs of one signature. nil stays nil.
func sameTypesPass(check func(term.Fact) error) func(term.Fact) error {
	if check == nil {
		return nil
	}
	var pred string
	var types []string
	return func(f term.Fact) error {
		if f.Predicate == pred && len(f.Args) == len(types) {
			same := true
			for i, a := range f.Args {
				if a.Type != types[i] {
					same = false
					break
				}
			}
			if same {
				return nil
			}
		}
		if err := check(f); err != nil {
			return err
		}
		pred, types = f.Predicate, types[:0]
		for _, a := range f.Args {
			types = append(types, a.Type)
		}
		return nil
	}
}

// exportHeader is the first line of an export: the revision it reflects.
type exportHeader struct {
	Revision uint64 `json:"revision"`
}

// handleExport is GET /admin/v1/facts/export: the revision, then every
// stored fact matching the pattern (as GET /api/facts) at that one
// revision, one per line, with its validity window (also a fact that does
// not hold now: an export restores what was stored).
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	p, err := factsQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	snap, err := s.storedSnapshot(r) // every stored fact, with its window
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := newLineWriter(w)
	out.write(exportHeader{Revision: snap.Revision()})
	writeFacts(out, snap, p)
	out.flush()
}

// factsAt reads the fact pattern of GET /api/facts (factsQuery) and the
// snapshot to answer it from.
func (s *Server) factsAt(r *http.Request, extra ...string) (term.Pattern, store.Snapshot, error) {
	p, err := factsQuery(r, extra...)
	if err != nil {
		return p, nil, err
	}
	snap, err := s.snapshot(r)
	return p, snap, err
}

// writeFacts writes the facts of snap matching p, one per line.
func writeFacts(out *lineWriter, snap store.Snapshot, p term.Pattern) {
	n := 0
	for f := range snap.Facts(p) {
		out.write(toOutFact(f))
		if n++; n%defaultStreamBatch == 0 {
			out.flush()
			if out.err != nil {
				return
			}
		}
	}
}
