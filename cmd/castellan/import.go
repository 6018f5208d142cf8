package main

// castellan import: facts from JSON Lines or CSV files (or standard input)
// streamed to the server's import endpoint, with progress.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const importHelp = `Loads facts into the server, streamed in batches (each checked against the live
policy and committed atomically), from files or standard input (- or no FILE).

JSON Lines (.jsonl, .ndjson, standard input): one fact per line in the wire format,
  {"predicate":"has_role","args":[{"type":"User","id":"alice"},{"type":"String","id":"maintainer"},{"type":"Repository","id":"anvil"}]}
CSV (.csv, or --format csv): a header naming the predicate and its argument types,
then one row of ids per fact (lines starting with # before the header are skipped):
  has_role,User,String,Repository
  alice,maintainer,anvil
The header may end with the columns @valid_from and @valid_until: each row then
gives the fact's validity window there (RFC 3339; empty: unbounded), as
castellan export writes facts that have one:
  has_role,User,String,Repository,@valid_from,@valid_until
  bob,reader,anvil,,2027-01-08T17:00:00Z

Bad lines are reported as FILE:LINE: reason and skipped; past --max-errors the
import stops, applying nothing of the batch that was being filled, and prints
the --from-line to resume from. Inserting a fact that is stored changes
nothing, so running an import again never duplicates facts.`

// importFlags are the flags of castellan import.
type importFlags struct {
	format    string
	batchSize int
	maxErrors int
	fromLine  int
	progress  string
}

func runImport(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "import", "import [FILE...] [flags]", importHelp)
	var f importFlags
	fs.StringVar(&f.format, "format", "auto", "input format: jsonl, csv or auto (by the file's extension; jsonl for standard input)")
	fs.IntVar(&f.batchSize, "batch-size", 5000, "facts per committed batch (at most the server's --max-batch-facts)")
	fs.IntVar(&f.maxErrors, "max-errors", 0, "bad lines to skip (reporting each) before stopping")
	fs.IntVar(&f.fromLine, "from-line", 1, "start at this line of the (one) input: resume an interrupted import")
	fs.StringVar(&f.progress, "progress", "auto", "progress: bar (on a terminal), log (a line every few seconds), none, or auto")
	files, err := parseArgs(fs, args)
	if err != nil {
		return helpOr(err)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	switch {
	case f.format != "auto" && f.format != "jsonl" && f.format != "csv":
		return usageError("import: --format is jsonl, csv or auto, not %q", f.format)
	case f.fromLine < 1:
		return usageError("import: --from-line counts from 1")
	case f.fromLine > 1 && len(files) > 1:
		return usageError("import: --from-line applies to one input; give the file to resume alone")
	case f.batchSize < 1 || f.maxErrors < 0:
		return usageError("import: --batch-size must be positive and --max-errors not negative")
	}
	c, err := r.streamClient()
	if err != nil {
		return err
	}
	p := newProgress(e, f.progress)
	defer p.stop()
	for _, name := range files {
		if err := importFile(ctx, c, r, name, f, p); err != nil {
			return err
		}
	}
	p.finish()
	return nil
}

// streamClient is client without the overall request timeout, which would
// cut a long import or export.
func (r *remote) streamClient() (*castellan.Client, error) {
	if _, err := r.client(); err != nil {
		return nil, err
	}
	return castellan.New(r.baseURL(), r.key(), castellan.WithHTTPClient(&http.Client{}),
		castellan.WithUserAgent("castellan-cli/"+version)), nil
}

// importFile streams one input to the server.
func importFile(ctx context.Context, c *castellan.Client, r *remote, name string, f importFlags, p *progress) error {
	in, size, err := openInput(r.e, name)
	if err != nil {
		return err
	}
	defer in.Close()
	format := f.format
	if format == "auto" {
		format = "jsonl"
		if strings.EqualFold(filepath.Ext(name), ".csv") {
			format = "csv"
		}
	}
	label := name
	if name == "-" {
		label = "<stdin>"
	}
	cr := &countingReader{r: in}
	p.start(label, size, &cr.n)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var errs atomic.Int64 // bad lines, found here or by the server
	tooMany := func() bool {
		if errs.Add(1) > int64(f.maxErrors) {
			cancel()
			return true
		}
		return false
	}
	pr, pw := io.Pipe()
	var convErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		conv := converter{w: bufio.NewWriterSize(pw, 256<<10), from: f.fromLine, bad: func(line int, msg string) bool {
			p.logf("%s:%d: %s", label, line, msg)
			return tooMany()
		}}
		if format == "csv" {
			convErr = conv.csv(cr)
		} else {
			convErr = conv.jsonl(cr)
		}
		if convErr == nil {
			convErr = conv.w.Flush()
		}
		pw.CloseWithError(convErr)
	})
	lastLine := f.fromLine - 1
	res, err := c.Import(ctx, pr, castellan.ImportOptions{
		BatchSize: f.batchSize, MaxErrors: f.maxErrors,
		OnBatch: func(a castellan.BatchAck) { p.add(a.Facts); lastLine = a.Lines[1] },
		OnError: func(le castellan.LineError) {
			p.logf("%s:%d: %s", label, le.Line, le.Error)
			tooMany()
		},
	})
	pr.CloseWithError(errors.New("import ended"))
	wg.Wait()
	if err == nil && convErr != nil {
		err = convErr
	}
	if err == nil {
		return nil
	}
	resume := lastLine + 1
	if res.Resume > 0 {
		resume = res.Resume
	}
	switch {
	case errs.Load() > int64(f.maxErrors):
		p.logf("%s: stopped after %d bad lines (--max-errors %d)", label, errs.Load(), f.maxErrors)
	case errors.Is(err, castellan.ErrStopped):
		p.logf("%s: %s", label, res.Message)
	default:
		p.logf("%s: %v", label, err)
	}
	if resume <= 1 {
		p.logf("nothing of %s was applied; fix the bad lines (or skip them with --max-errors) and run the import again", name)
	} else {
		p.logf("lines before %d are in; resume with: castellan import --from-line %d %s", resume, resume, name)
	}
	return errReported
}

// openInput opens a file, or standard input for "-", and returns its size
// (0 when unknown).
func openInput(e *env, name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(e.stdin), 0, nil
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, 0, usageError("import: %v", err)
	}
	var size int64
	if st, err := fh.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return fh, size, nil
}

// countingReader counts the bytes read through it (for the progress).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// converter writes the import stream: one line for every input line, so
// that the server's line numbers are the file's. Lines before from and
// lines that are bad here are sent blank (the server skips them).
type converter struct {
	w    *bufio.Writer
	from int
	line int // lines written
	bad  func(line int, msg string) (stop bool)
}

// errTooManyErrors stops a conversion past --max-errors.
var errTooManyErrors = errors.New("too many bad lines")

// jsonl passes lines through: the server checks them.
func (c *converter) jsonl(in io.Reader) error {
	br := bufio.NewReaderSize(in, 256<<10)
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: pass it on, the server
			// bounds it.
			if c.line+1 >= c.from {
				c.w.Write(b)
			}
			continue
		}
		if len(b) > 0 {
			c.line++
			if c.line < c.from || (c.line == 1 && bytes.HasPrefix(b, []byte(`{"revision":`))) {
				// Skipped, or the revision line of an export.
				c.w.WriteByte('\n')
			} else {
				c.w.Write(b)
				if b[len(b)-1] != '\n' {
					c.w.WriteByte('\n')
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// csvFact is a fact as the converter writes it (a window as the row gives
// it: the server checks it).
type csvFact struct {
	Predicate  string            `json:"predicate"`
	Args       []castellan.Value `json:"args"`
	ValidFrom  string            `json:"valid_from,omitempty"`
	ValidUntil string            `json:"valid_until,omitempty"`
}

// CSV window columns: names no type can have, at the end of a header.
const (
	csvValidFrom  = "@valid_from"
	csvValidUntil = "@valid_until"
)

// csvHeader splits a CSV header's columns after the predicate into the
// argument types and the positions of the window columns (-1: absent).
func csvHeader(cols []string) (types []string, from, until int, err error) {
	from, until = -1, -1
	for i, c := range cols {
		switch {
		case c == csvValidFrom && from < 0:
			from = i
		case c == csvValidUntil && until < 0:
			until = i
		case strings.HasPrefix(c, "@"):
			return nil, 0, 0, fmt.Errorf("column %q: the columns after the types may be %s and %s, once each", c, csvValidFrom, csvValidUntil)
		case from >= 0 || until >= 0:
			return nil, 0, 0, fmt.Errorf("column %q: argument types come before %s and %s", c, csvValidFrom, csvValidUntil)
		default:
			types = append(types, c)
		}
	}
	if len(types) == 0 {
		return nil, 0, 0, fmt.Errorf("no argument types")
	}
	return types, from, until, nil
}

// csv reads a header (predicate, then argument types) and rows of ids.
func (c *converter) csv(in io.Reader) error {
	br := bufio.NewReaderSize(in, 256<<10)
	// Comment lines before the header (an export's revision line).
	for {
		b, err := br.Peek(1)
		if err != nil || b[0] != '#' {
			break
		}
		if _, err := br.ReadString('\n'); err != nil && err != io.EOF {
			return err
		}
		c.line++
		c.w.WriteByte('\n')
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CSV header: %w", err)
	}
	if len(head) < 2 || !predicateRE.MatchString(head[0]) {
		return fmt.Errorf("line %d: the CSV header names the predicate and its argument types, such as has_role,User,String,Repository", c.line+1)
	}
	pred := head[0]
	types, fromCol, untilCol, err := csvHeader(head[1:])
	if err != nil {
		return fmt.Errorf("line %d: CSV header: %w", c.line+1, err)
	}
	cols := len(head) - 1
	headLine, _ := cr.FieldPos(0)
	c.pad(c.line + headLine)
	base := c.line - headLine
	f := csvFact{Predicate: pred, Args: make([]castellan.Value, len(types))}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := cr.FieldPos(0)
		line += base
		c.pad(line - 1)
		var msg string
		switch {
		case err != nil:
			msg = err.Error()
		case len(rec) != cols && cols == len(types):
			msg = fmt.Sprintf("%d fields, the header names %d arguments", len(rec), len(types))
		case len(rec) != cols:
			msg = fmt.Sprintf("%d fields, the header names %d columns", len(rec), cols)
		}
		if msg != "" {
			c.w.WriteByte('\n')
			c.line++
			if line >= c.from && c.bad(line, msg) {
				return errTooManyErrors
			}
			continue
		}
		c.line++
		if line < c.from {
			c.w.WriteByte('\n')
			continue
		}
		for i := range types {
			f.Args[i] = castellan.Value{Type: types[i], ID: rec[i]}
		}
		f.ValidFrom, f.ValidUntil = "", ""
		if fromCol >= 0 {
			f.ValidFrom = rec[fromCol]
		}
		if untilCol >= 0 {
			f.ValidUntil = rec[untilCol]
		}
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		c.w.Write(b)
		c.w.WriteByte('\n')
	}
}

// pad writes blank lines up to line n (a CSV record can span lines).
func (c *converter) pad(n int) {
	for c.line < n {
		c.w.WriteByte('\n')
		c.line++
	}
}

// progress reports an import: a bar redrawn on a terminal, a log line
// every few seconds otherwise, or nothing.
type progress struct {
	e     *env
	mode  string // "bar", "log" or "none"
	mu    sync.Mutex
	label string
	size  int64
	read  *atomic.Int64
	facts int64
	total int64
	began time.Time
	done  chan struct{}
	wg    sync.WaitGroup
	drawn bool
}

// progressEvery is how often the progress is redrawn (bar) or logged.
var progressEvery = map[string]time.Duration{"bar": 200 * time.Millisecond, "log": 5 * time.Second}

func newProgress(e *env, mode string) *progress {
	if mode == "auto" {
		mode = "log"
		if f, ok := e.stderr.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				mode = "bar"
			}
		}
	}
	p := &progress{e: e, mode: mode, began: time.Now(), done: make(chan struct{})}
	if every, ok := progressEvery[mode]; ok {
		p.wg.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-p.done:
					return
				case <-t.C:
					p.draw()
				}
			}
		})
	}
	return p
}

// start begins an input of size bytes (0: unknown), read counting them.
func (p *progress) start(label string, size int64, read *atomic.Int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.size, p.read, p.facts = label, size, read, 0
}

// add counts committed facts.
func (p *progress) add(n int) {
	p.mu.Lock()
	p.facts += int64(n)
	p.total += int64(n)
	p.mu.Unlock()
}

// line renders the progress: done, rate, share and ETA when known.
func (p *progress) line() string {
	el := time.Since(p.began)
	rate := float64(p.total) / max(el.Seconds(), 1e-3)
	s := fmt.Sprintf("%s: %d facts, %.0f facts/s", p.label, p.facts, rate)
	if p.size > 0 && p.read != nil {
		done := float64(p.read.Load()) / float64(p.size)
		s += fmt.Sprintf(", %3.0f%%", 100*done)
		if done > 0.01 && done < 1 {
			eta := time.Duration(float64(el) * (1 - done) / done).Round(time.Second)
			s += ", ETA " + eta.String()
		}
	}
	return s
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.label == "" {
		return
	}
	if p.mode == "bar" {
		fmt.Fprintf(p.e.stderr, "\r\033[K%s", p.line())
		p.drawn = true
		return
	}
	fmt.Fprintln(p.e.stderr, "castellan import:", p.line())
}

// logf prints a message on its own line (above the bar).
func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.e.stderr, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprintf(p.e.stderr, format+"\n", args...)
}

// finish prints the summary on standard output.
func (p *progress) finish() {
	p.stop()
	el := time.Since(p.began)
	fmt.Fprintf(p.e.stdout, "imported %d facts in %s (%.0f facts/s)\n", p.total, el.Round(time.Millisecond), float64(p.total)/max(el.Seconds(), 1e-3))
}

// stop ends the redrawing (once).
func (p *progress) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	if p.drawn {
		fmt.Fprint(p.e.stderr, "\r\033[K")
		p.drawn = false
	}
	p.mu.Unlock()
}
