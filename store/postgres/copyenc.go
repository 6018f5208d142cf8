package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
)

// copyWriter builds the body of a COPY ... FROM STDIN (FORMAT binary)
// by hand: encoding the facts' text[] arguments through pgx's generic
// plans cost about a quarter of an import's CPU in the Go process.
type copyWriter struct {
	buf bytes.Buffer
	b   [8]byte
}

// textOID is the type of an array's elements (text).
const textOID = 25

// pgEpoch is the origin of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// newCopyWriter starts a body in a buffer of size bytes.
func newCopyWriter(size int) *copyWriter {
	w := &copyWriter{}
	w.buf.Grow(size)
	w.buf.WriteString("PGCOPY\n\xff\r\n\x00")
	w.int32(0) // flags
	w.int32(0) // header extension length
	return w
}

func (w *copyWriter) int16(v int16) {
	binary.BigEndian.PutUint16(w.b[:2], uint16(v))
	w.buf.Write(w.b[:2])
}

func (w *copyWriter) int32(v int32) {
	binary.BigEndian.PutUint32(w.b[:4], uint32(v))
	w.buf.Write(w.b[:4])
}

func (w *copyWriter) int64(v int64) {
	binary.BigEndian.PutUint64(w.b[:8], uint64(v))
	w.buf.Write(w.b[:8])
}

// row starts a row of n fields.
func (w *copyWriter) row(n int) { w.int16(int16(n)) }

func (w *copyWriter) bytea(b []byte) {
	w.int32(int32(len(b)))
	w.buf.Write(b)
}

func (w *copyWriter) text(s string) {
	w.int32(int32(len(s)))
	w.buf.WriteString(s)
}

func (w *copyWriter) int4(v int) {
	w.int32(4)
	w.int32(int32(v))
}

func (w *copyWriter) int8(v int64) {
	w.int32(8)
	w.int64(v)
}

func (w *copyWriter) int2(v int16) {
	w.int32(2)
	w.int16(v)
}

// timestamptz writes t, or NULL when t is zero.
func (w *copyWriter) timestamptz(t time.Time) {
	if t.IsZero() {
		w.int32(-1)
		return
	}
	w.int32(8)
	w.int64(t.Sub(pgEpoch).Microseconds())
}

// textArray writes the type (ids false) or the id (ids true) of each
// argument as a one-dimensional text[].
func (w *copyWriter) textArray(args []term.Value, ids bool) {
	size := 12
	if len(args) > 0 {
		size += 8
	}
	for _, a := range args {
		s := a.Type
		if ids {
			s = a.ID
		}
		size += 4 + len(s)
	}
	w.int32(int32(size))
	if len(args) == 0 {
		w.int32(0) // no dimension
		w.int32(0) // no NULL
		w.int32(textOID)
		return
	}
	w.int32(1)
	w.int32(0)
	w.int32(textOID)
	w.int32(int32(len(args)))
	w.int32(1) // lower bound
	for _, a := range args {
		s := a.Type
		if ids {
			s = a.ID
		}
		w.text(s)
	}
}

// reserveIDs takes n consecutive facts ids (the writer holds the
// castellan_head row lock, so no other Castellan writer takes ids
// meanwhile) and returns the first: COPY then sends the ids rather than
// have the database call nextval for every row, and the change log names
// the block.
func reserveIDs(ctx context.Context, tx pgx.Tx, n int) (int64, error) {
	var first int64
	if err := tx.QueryRow(ctx, "SELECT setval('facts_id_seq', nextval('facts_id_seq') + $1 - 1) - $1 + 1", int64(n)).Scan(&first); err != nil {
		return 0, fmt.Errorf("reserving ids: %w", err)
	}
	return first, nil
}

// copyChunkBytes is how much encoded COPY data copyFacts hands to the
// connection at a time.
var copyChunkBytes = 256 << 10

// errCopyEnded stops the encoder of a COPY that ended early.
var errCopyEnded = errors.New("the COPY ended")

// copyFacts stores facts at revision rev, except those stored already
// (skip), with one COPY into facts, and logs them with one row in changes
// naming their block of ids (op 3, see migration 11), through tx's
// connection. The rows are checked and encoded on another goroutine while
// the database stores those sent before, so that the two overlap.
func copyFacts(ctx context.Context, tx pgx.Tx, rev int64, facts []keyedFact, skip func(*keyedFact) bool) error {
	first, err := reserveIDs(ctx, tx, len(facts))
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	copied := 0
	encoded := make(chan struct{})
	go func() {
		defer close(encoded)
		w := newCopyWriter(copyChunkBytes + 4096)
		for i := range facts {
			kf := &facts[i]
			if skip(kf) {
				continue
			}
			f := kf.fact
			w.row(9)
			w.bytea(kf.key[:])
			w.int8(first + int64(copied))
			w.text(f.Predicate)
			w.int4(len(f.Args))
			w.textArray(f.Args, false)
			w.textArray(f.Args, true)
			w.int8(rev)
			w.timestamptz(f.Valid.From)
			w.timestamptz(f.Valid.Until)
			copied++
			if w.buf.Len() >= copyChunkBytes {
				if _, err := pw.Write(w.buf.Bytes()); err != nil {
					return // the COPY failed or ended: pr was closed
				}
				w.buf.Reset()
			}
		}
		w.int16(-1) // the trailer
		if _, err := pw.Write(w.buf.Bytes()); err != nil {
			return
		}
		pw.Close()
	}()
	_, err = tx.Conn().PgConn().CopyFrom(ctx, pr, "COPY facts (fact_key, id, predicate, arity, arg_types, arg_ids, revision, valid_from, valid_until) FROM STDIN (FORMAT binary)")
	pr.CloseWithError(errCopyEnded)
	<-encoded
	if err != nil {
		return fmt.Errorf("copying facts: %w", err)
	}
	if copied == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "INSERT INTO changes (revision, op, first_id, last_id) VALUES ($1, 3, $2, $3)", rev, first, first+int64(copied)-1); err != nil {
		return fmt.Errorf("logging the copied facts: %w", err)
	}
	return nil
}
