package index

import (
	"encoding/binary"
	"math"
	"sort"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// Chunk sizes of the change log: the first chunk is small so that a small
// store stays small; later ones grow with the log up to maxLogChunk.
const (
	minLogChunk = 256
	maxLogChunk = 1 << 16
)

// changeLog is the change log of an Index, kept compact: each change is
// encoded as uvarints (the table id shifted left by two, with the low bit
// set for a delete and the next one for an insert with a validity window,
// then the argument ids, then for a window its two bounds as varints) in
// byte chunks of bounded size,
// so the log grows without copying and wastes at most one chunk. A run
// indexes the changes of one revision within one chunk, so Changes finds
// its start by binary search. A change of a 3-argument fact costs about 10
// bytes; changes resolve to term.Fact only when they are read.
type changeLog struct {
	runs   []logRun
	chunks [][]byte // chunks[i] is chunk number base+i
	base   uint32   // number of the first chunk kept
	size   int      // bytes in chunks
	pruned uint64   // the last revision whose changes were pruned
}

// logRun is a sequence of changes of one revision stored contiguously in
// one chunk.
type logRun struct {
	rev   uint64
	chunk uint32 // chunk number: changeLog.chunks[chunk-base]
	off   uint32 // offset of the first change in the chunk
	n     uint32 // number of changes
}

// add appends a change of table id tab with argument ids ids at revision
// rev.
func (l *changeLog) add(rev uint64, tab uint32, op store.ChangeOp, ids []uint32, w [2]int64) {
	need := binary.MaxVarintLen32*(1+len(ids)) + 2*binary.MaxVarintLen64
	last := len(l.chunks) - 1
	if last < 0 || cap(l.chunks[last])-len(l.chunks[last]) < need {
		size := max(need, min(maxLogChunk, max(minLogChunk, l.size)))
		l.chunks = append(l.chunks, make([]byte, 0, size))
		last++
		l.runs = append(l.runs, logRun{rev: rev, chunk: l.base + uint32(last)})
	} else if r := &l.runs[len(l.runs)-1]; r.rev != rev {
		l.runs = append(l.runs, logRun{rev: rev, chunk: l.base + uint32(last), off: uint32(len(l.chunks[last]))})
	}
	c := l.chunks[last]
	n := len(c)
	h := uint64(tab) << 2
	if op == store.OpDelete {
		h |= 1
	}
	windowed := w != [2]int64{math.MinInt64, math.MaxInt64}
	if windowed {
		h |= 2
	}
	c = binary.AppendUvarint(c, h)
	for _, id := range ids {
		c = binary.AppendUvarint(c, uint64(id))
	}
	if windowed {
		c = binary.AppendVarint(c, w[0])
		c = binary.AppendVarint(c, w[1])
	}
	l.chunks[last] = c
	l.size += len(c) - n
	l.runs[len(l.runs)-1].n++
}

// Changes returns up to limit logged changes after revision since
// (limit <= 0: all), in commit order and, within a revision, in the order
// they were applied; only inserts that added a fact and deletes that removed
// one are logged. The slice and its facts are new and belong to the caller.
// An index made without WithChangeLog returns none.
func (x *Index) Changes(since uint64, limit int) []store.Change {
	x.mu.RLock()
	defer x.mu.RUnlock()
	l := &x.log
	first := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].rev > since })
	total := 0
	for _, r := range l.runs[first:] {
		total += int(r.n)
		if limit > 0 && total >= limit {
			total = limit
			break
		}
	}
	out := make([]store.Change, 0, total)
	for _, r := range l.runs[first:] {
		b := l.chunks[r.chunk-l.base][r.off:]
		for range r.n {
			if len(out) == total {
				return out
			}
			h, k := binary.Uvarint(b)
			b = b[k:]
			t := x.byID[h>>2]
			op := store.OpInsert
			if h&1 != 0 {
				op = store.OpDelete
			}
			f := term.Fact{Predicate: t.pred, Args: make([]term.Value, t.arity)}
			for i := range f.Args {
				id, k := binary.Uvarint(b)
				b = b[k:]
				f.Args[i] = x.value(uint32(id))
			}
			if h&2 != 0 {
				from, k := binary.Varint(b)
				b = b[k:]
				until, k := binary.Varint(b)
				b = b[k:]
				f.Valid = term.WindowOfNanos(from, until)
			}
			out = append(out, store.Change{Revision: r.rev, Op: op, Fact: f})
		}
	}
	return out
}

// PruneChanges drops the change log's revisions up to and including
// through, with their references to interned values; Changes then returns
// nothing of them, and ChangesPruned reports through. Memory is given back by whole chunks (the chunk holding the
// first kept revision stays) and, for the runs, when the slice next grows.
func (x *Index) PruneChanges(through uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	l := &x.log
	if through <= l.pruned {
		return
	}
	l.pruned = through
	i := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].rev > through })
	for _, r := range l.runs[:i] { // the pruned changes' references to values
		b := l.chunks[r.chunk-l.base][r.off:]
		for range r.n {
			h, k := binary.Uvarint(b)
			b = b[k:]
			for range x.byID[h>>2].arity {
				id, k := binary.Uvarint(b)
				b = b[k:]
				x.unref(uint32(id))
			}
			if h&2 != 0 { // the window of an insert
				_, k := binary.Varint(b)
				b = b[k:]
				_, k = binary.Varint(b)
				b = b[k:]
			}
		}
	}
	clear(l.runs[:i])
	l.runs = l.runs[i:]
	keep := uint32(len(l.chunks)) // every chunk goes when no run is left
	if len(l.runs) > 0 {
		keep = l.runs[0].chunk - l.base
	}
	for _, c := range l.chunks[:keep] {
		l.size -= len(c)
	}
	clear(l.chunks[:keep])
	l.chunks = l.chunks[keep:]
	l.base += keep
}

// ChangesPruned returns the last revision whose changes PruneChanges
// dropped (0: none).
func (x *Index) ChangesPruned() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.log.pruned
}
