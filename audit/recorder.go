package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Sink is where a Recorder writes lines. Its methods are called from the
// Recorder's one writer goroutine only.
type Sink interface {
	// Last returns the last complete line the sink holds (without its
	// newline), so that the chain continues; nil when it holds none.
	Last() ([]byte, error)
	// Write writes one line (with its newline). It may buffer.
	Write(line []byte) error
	// Flush makes what was written durable as far as the sink can.
	Flush() error
	// Close flushes and releases the sink.
	Close() error
}

// WhenFull is what Recorder.Record does when the buffer is full.
type WhenFull string

// Policies for a full buffer.
const (
	// Block makes the decision wait until its record is buffered.
	Block WhenFull = "block"
	// Drop drops the record and counts it (Recorder.Dropped).
	Drop WhenFull = "drop"
)

// ParseWhenFull parses block or drop.
func ParseWhenFull(s string) (WhenFull, error) {
	switch w := WhenFull(s); w {
	case Block, Drop:
		return w, nil
	}
	return "", fmt.Errorf("when the buffer is full: %q: want block or drop", s)
}

// Options configure a Recorder. The zero value is usable.
type Options struct {
	// Buffer is how many records may wait for the writer (default 4096).
	Buffer int
	// WhenFull is Block (default) or Drop.
	WhenFull WhenFull
	// SigningKey, when set, signs checkpoints.
	SigningKey ed25519.PrivateKey
	// CheckpointEvery is the most records between checkpoints (default 1000).
	CheckpointEvery int
	// CheckpointInterval is the longest time a record waits for a
	// checkpoint (default 10s).
	CheckpointInterval time.Duration
	// OnDrop is called by the writer with how many records were dropped
	// since it last called it (for a log line).
	OnDrop func(n uint64)
	// OnError is called by the writer when the sink fails.
	OnError func(error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Recorder writes decision records to a Sink, asynchronously: Record only
// buffers. A nil *Recorder records nothing.
type Recorder struct {
	sink     Sink
	opts     Options
	ch       chan *Record
	quit     chan struct{}
	done     chan struct{}
	closed   atomic.Bool
	once     sync.Once
	closeErr error

	written atomic.Uint64
	// unflushed counts the records given to the sink since its last
	// successful Flush (writer goroutine only).
	unflushed uint64
	dropped   atomic.Uint64

	// The writer's state.
	seq      uint64
	prevHash string
	sinceCP  int
	lastCP   time.Time
	reported uint64
}

// NewRecorder returns a recorder on sink, continuing the chain of the
// last line the sink holds, and starts its writer. Close it to flush.
func NewRecorder(sink Sink, opts Options) (*Recorder, error) {
	if opts.Buffer <= 0 {
		opts.Buffer = 4096
	}
	if opts.WhenFull == "" {
		opts.WhenFull = Block
	}
	if _, err := ParseWhenFull(string(opts.WhenFull)); err != nil {
		return nil, err
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 1000
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Recorder{
		sink: sink, opts: opts,
		ch:   make(chan *Record, opts.Buffer),
		quit: make(chan struct{}), done: make(chan struct{}),
		prevHash: Genesis,
	}
	last, err := sink.Last()
	if err != nil {
		return nil, err
	}
	if last != nil {
		var h header
		if err := json.Unmarshal(last, &h); err != nil || h.Seq == 0 {
			return nil, errors.New("the log's last line is not a record: verify it, and move it aside to start a new log")
		}
		r.seq, r.prevHash = h.Seq, Hash(last)
	}
	r.lastCP = opts.Now()
	go r.run()
	return r, nil
}

// Record buffers rec, to be written in order after the records buffered
// before it; the caller must not change rec afterwards. When the buffer is
// full it blocks or drops rec, per Options.WhenFull. After Close, records
// are dropped.
func (r *Recorder) Record(rec *Record) {
	if r == nil {
		return
	}
	if r.closed.Load() {
		r.dropped.Add(1)
		return
	}
	select {
	case r.ch <- rec:
		return
	default:
	}
	if r.opts.WhenFull == Drop {
		r.dropped.Add(1)
		return
	}
	select {
	case r.ch <- rec:
	case <-r.quit:
		r.dropped.Add(1)
	}
}

// Written returns how many records (checkpoints included) were written:
// given to the sink and flushed.
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Dropped returns how many records were dropped.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Depth returns how many records wait in the buffer.
func (r *Recorder) Depth() int { return len(r.ch) }

// Close writes the records buffered so far and, with a signing key, a
// final checkpoint, then closes the sink. Call it once the server no
// longer answers; later records are dropped.
func (r *Recorder) Close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		close(r.quit)
		<-r.done
	})
	return r.closeErr
}

// run is the writer goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	var tick <-chan time.Time
	if r.opts.SigningKey != nil {
		t := time.NewTicker(r.opts.CheckpointInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case rec := <-r.ch:
			r.write(rec)
			r.drain()
			r.flush()
		case <-tick:
			if r.sinceCP > 0 && r.opts.Now().Sub(r.lastCP) >= r.opts.CheckpointInterval {
				r.checkpoint(false)
				r.flush()
			}
		case <-r.quit:
			r.drain()
			if r.opts.SigningKey != nil && r.seq > 0 {
				r.checkpoint(true)
			}
			r.flush()
			r.closeErr = r.sink.Close()
			return
		}
	}
}

// drain writes what is buffered now.
func (r *Recorder) drain() {
	for {
		select {
		case rec := <-r.ch:
			r.write(rec)
		default:
			return
		}
	}
}

// write chains, encodes and writes one decision record.
func (r *Recorder) write(rec *Record) {
	rec.Kind = KindDecision
	if rec.Time.IsZero() {
		rec.Time = r.opts.Now()
	}
	r.append(rec)
	if r.opts.SigningKey != nil {
		r.sinceCP++
		if r.sinceCP >= r.opts.CheckpointEvery {
			r.checkpoint(false)
		}
	}
}

// checkpoint writes a checkpoint over the last record.
func (r *Recorder) checkpoint(final bool) {
	now := r.opts.Now()
	r.append(checkpoint(r.opts.SigningKey, r.seq, r.prevHash, final, now))
	r.sinceCP, r.lastCP = 0, now
}

// append gives rec its place in the chain and writes it.
func (r *Recorder) append(rec *Record) {
	rec.Seq, rec.Prev = r.seq+1, r.prevHash
	line, err := Encode(rec)
	if err != nil {
		r.fail(err)
		return
	}
	if err := r.sink.Write(append(line, '\n')); err != nil {
		r.fail(err)
		return
	}
	r.seq, r.prevHash = rec.Seq, Hash(line)
	r.unflushed++
}

// flush flushes the sink; the records it took count as written once it
// succeeds (a file's are then written out, the database's committed).
func (r *Recorder) flush() {
	if err := r.sink.Flush(); err != nil {
		r.fail(err)
	} else {
		r.written.Add(r.unflushed)
		r.unflushed = 0
	}
	if d := r.dropped.Load(); d > r.reported && r.opts.OnDrop != nil {
		r.opts.OnDrop(d - r.reported)
		r.reported = d
	}
}

func (r *Recorder) fail(err error) {
	if r.opts.OnError != nil {
		r.opts.OnError(err)
	}
}
