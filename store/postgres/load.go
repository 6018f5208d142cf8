package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store/index"
)

// Loading the facts at start: one COPY ... TO STDOUT (FORMAT binary) of
// the facts in insertion order, read in three stages that overlap: the
// connection's reads (chunks of rows), decoding (facts, in batches) and the
// inserts into the index (one Tx, which only one goroutine may use).

// loadProgressEvery is how often the load logs its progress.
const loadProgressEvery = 2 * time.Second

const (
	loadChunkBytes = 1 << 20 // bytes of COPY data handed to the decoder at once
	loadBatchFacts = 8192    // facts handed to the inserter at once
)

// errShortRow reports a row cut at the end of a chunk (the decoder waits
// for the next).
var errShortRow = errors.New("short row")

// copyLoad reads every fact of tx's snapshot, in insertion order, into
// itx, logging its progress; it returns how many it read.
func (s *Store) copyLoad(ctx context.Context, tx pgx.Tx, itx *index.Tx) (int, error) {
	var estimate int64
	// The planner's estimate of the count, for the progress lines (a
	// count(*) would read the table once more).
	_ = tx.QueryRow(ctx, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'facts'::regclass").Scan(&estimate)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []byte, 4)
	batches := make(chan []term.Fact, 4)
	copyErr := make(chan error, 1)
	decodeErr := make(chan error, 1)
	go func() {
		w := &chunkWriter{ctx: ctx, out: chunks}
		_, err := tx.Conn().PgConn().CopyTo(ctx, w, "COPY (SELECT predicate, arg_types, arg_ids, valid_from, valid_until FROM facts ORDER BY id) TO STDOUT (FORMAT binary)")
		if err == nil {
			err = w.flush()
		}
		close(chunks)
		copyErr <- err
	}()
	go func() {
		err := decodeFacts(ctx, chunks, batches)
		close(batches)
		if err != nil {
			cancel()
		}
		decodeErr <- err
	}()
	start := time.Now()
	next := start.Add(loadProgressEvery)
	n := 0
	for batch := range batches {
		itx.InsertAll(batch)
		n += len(batch)
		if now := time.Now(); now.After(next) {
			next = now.Add(loadProgressEvery)
			elapsed := now.Sub(start)
			e := s.log.Info().Int("facts", n)
			if estimate > int64(n) { // the statistics may be stale
				e = e.Int64("of_about", estimate)
			}
			e.Int("facts_per_s", int(float64(n)/elapsed.Seconds())).
				Str("elapsed", elapsed.Round(time.Millisecond).String()).Msg("loading facts")
		}
	}
	dErr, cErr := <-decodeErr, <-copyErr
	if dErr != nil && !errors.Is(dErr, context.Canceled) && (cErr == nil || errors.Is(cErr, context.Canceled)) {
		return n, fmt.Errorf("loading facts: %w", dErr) // the decoder stopped the COPY
	}
	if cErr != nil {
		return n, unavailable(ctx, fmt.Errorf("loading facts: %w", cErr))
	}
	if dErr != nil {
		return n, fmt.Errorf("loading facts: %w", dErr)
	}
	elapsed := time.Since(start)
	s.log.Info().Int("facts", n).Int("facts_per_s", int(float64(n)/max(elapsed.Seconds(), 1e-9))).
		Str("elapsed", elapsed.Round(time.Millisecond).String()).Msg("facts loaded")
	return n, nil
}

// chunkWriter gathers the COPY data into chunks of loadChunkBytes for the
// decoder (the bytes pgconn passes to Write are reused after it returns).
type chunkWriter struct {
	ctx context.Context
	out chan<- []byte
	buf []byte
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if w.buf == nil {
		w.buf = make([]byte, 0, loadChunkBytes+len(p))
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= loadChunkBytes {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	select {
	case w.out <- w.buf:
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
	w.buf = nil
	return nil
}

// decodeFacts decodes the binary COPY rows of chunks (predicate,
// arg_types, arg_ids, valid_from, valid_until) into batches of facts. A
// row may span chunks.
func decodeFacts(ctx context.Context, chunks <-chan []byte, out chan<- []term.Fact) error {
	d := &rowDecoder{names: map[string]string{}}
	var rest []byte
	header := true
	for chunk := range chunks {
		data := chunk
		if len(rest) > 0 {
			data = append(rest, chunk...)
		}
		if header {
			const sig = "PGCOPY\n\xff\r\n\x00"
			if len(data) < len(sig)+8 {
				rest = data
				continue
			}
			if string(data[:len(sig)]) != sig {
				return errors.New("not a binary COPY stream")
			}
			ext := int(binary.BigEndian.Uint32(data[len(sig)+4:]))
			if len(data) < len(sig)+8+ext {
				rest = data
				continue
			}
			data = data[len(sig)+8+ext:]
			header = false
		}
		for {
			used, f, end, err := d.row(data)
			if errors.Is(err, errShortRow) {
				break
			}
			if err != nil {
				return err
			}
			data = data[used:]
			if end {
				data = nil
				break
			}
			d.batch = append(d.batch, f)
			if len(d.batch) == loadBatchFacts {
				if err := d.send(ctx, out); err != nil {
					return err
				}
			}
		}
		rest = append([]byte(nil), data...)
	}
	if len(rest) > 0 {
		return fmt.Errorf("the COPY stream ends inside a row (%d bytes left)", len(rest))
	}
	return d.send(ctx, out)
}

// rowDecoder decodes rows; names holds the predicates and types seen (few
// and repeated), so that each is allocated once.
type rowDecoder struct {
	names map[string]string
	batch []term.Fact
	args  []term.Value // slab the facts' arguments are cut from
	ids   []int        // offsets of the ids in a row
}

func (d *rowDecoder) send(ctx context.Context, out chan<- []term.Fact) error {
	if len(d.batch) == 0 {
		return nil
	}
	select {
	case out <- d.batch:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.batch = make([]term.Fact, 0, loadBatchFacts)
	return nil
}

func (d *rowDecoder) name(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.names) < 1<<16 {
		d.names[s] = s
	}
	return s
}

// cursor reads big-endian fields, reporting errShortRow past the end.
type cursor struct {
	b   []byte
	off int
	err error
}

func (c *cursor) n(k int) []byte {
	if c.err != nil || c.off+k > len(c.b) || k < 0 {
		if c.err == nil {
			c.err = errShortRow
		}
		return nil
	}
	p := c.b[c.off : c.off+k]
	c.off += k
	return p
}

func (c *cursor) i16() int16 {
	if p := c.n(2); p != nil {
		return int16(binary.BigEndian.Uint16(p))
	}
	return 0
}

func (c *cursor) i32() int32 {
	if p := c.n(4); p != nil {
		return int32(binary.BigEndian.Uint32(p))
	}
	return 0
}

// field returns the next field's bytes, or nil for NULL.
func (c *cursor) field() []byte {
	l := c.i32()
	if l < 0 || c.err != nil {
		return nil
	}
	return c.n(int(l))
}

// array returns the elements of a one-dimensional text[] field.
func (c *cursor) array(dst [][]byte) [][]byte {
	f := c.field()
	if c.err != nil {
		return dst
	}
	a := cursor{b: f}
	ndim := a.i32()
	a.i32() // flags
	a.i32() // element type
	if ndim == 0 {
		return dst
	}
	if ndim != 1 {
		c.err = fmt.Errorf("an argument array of %d dimensions", ndim)
		return dst
	}
	n := a.i32()
	a.i32() // lower bound
	for range n {
		e := a.field()
		dst = append(dst, e)
	}
	if a.err != nil {
		c.err = fmt.Errorf("a malformed argument array: %v", a.err)
	}
	return dst
}

func (c *cursor) timestamp() time.Time {
	f := c.field()
	if len(f) != 8 {
		return time.Time{}
	}
	us := int64(binary.BigEndian.Uint64(f))
	return pgEpoch.Add(time.Duration(us) * time.Microsecond).UTC()
}

// row decodes one row at the start of b: its length, the fact, or end at
// the stream's trailer. It fails with errShortRow when b ends inside it.
func (d *rowDecoder) row(b []byte) (used int, f term.Fact, end bool, err error) {
	c := cursor{b: b}
	nf := c.i16()
	if c.err != nil {
		return 0, f, false, c.err
	}
	if nf == -1 {
		return c.off, f, true, nil
	}
	if nf != 5 {
		return 0, f, false, fmt.Errorf("a row of %d fields, want 5", nf)
	}
	pred := c.field()
	var buf [16][]byte
	types := c.array(buf[:0])
	nt := len(types)
	all := c.array(types)
	from, until := c.timestamp(), c.timestamp()
	if c.err != nil {
		return 0, f, false, c.err
	}
	ids := all[nt:]
	if len(ids) != nt {
		return 0, f, false, fmt.Errorf("a fact with %d types and %d ids", nt, len(ids))
	}
	if len(d.args)+nt > cap(d.args) {
		d.args = make([]term.Value, 0, max(loadBatchFacts*4, nt))
	}
	args := d.args[len(d.args) : len(d.args)+nt : len(d.args)+nt]
	d.args = d.args[:len(d.args)+nt]
	for i := range nt {
		// One string per id: the index keeps the ids it interns, and a
		// string shared by a row's ids would keep them all.
		args[i] = term.Value{Type: d.name(types[i]), ID: string(ids[i])}
	}
	f = term.Fact{Predicate: d.name(pred), Args: args, Valid: term.Window{From: from, Until: until}}
	return c.off, f, false, nil
}
