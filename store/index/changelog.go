package index

import (
	"encoding/binary"
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
// encoded as uvarints (the table id shifted left by one, with the low bit
// set for a delete, then the argument ids) in byte chunks of bounded size,
// so the log grows without copying and wastes at most one chunk. A run
// indexes the changes of one revision within one chunk, so Changes finds
// its start by binary search. A change of a 3-argument fact costs about 10
// bytes; changes resolve to term.Fact only when they are read.
type changeLog struct {
	runs   []logRun
	chunks [][]byte
	size   int // bytes in chunks
}

// logRun is a sequence of changes of one revision stored contiguously in
// one chunk.
type logRun struct {
	rev   uint64
	chunk uint32 // index in changeLog.chunks
	off   uint32 // offset of the first change in the chunk
	n     uint32 // number of changes
}

// add appends a change of table id tab with argument ids ids at revision
// rev.
func (l *changeLog) add(rev uint64, tab uint32, op store.ChangeOp, ids []uint32) {
	need := binary.MaxVarintLen32 * (1 + len(ids))
	last := len(l.chunks) - 1
	if last < 0 || cap(l.chunks[last])-len(l.chunks[last]) < need {
		size := max(need, min(maxLogChunk, max(minLogChunk, l.size)))
		l.chunks = append(l.chunks, make([]byte, 0, size))
		last++
		l.runs = append(l.runs, logRun{rev: rev, chunk: uint32(last)})
	} else if r := &l.runs[len(l.runs)-1]; r.rev != rev {
		l.runs = append(l.runs, logRun{rev: rev, chunk: uint32(last), off: uint32(len(l.chunks[last]))})
	}
	c := l.chunks[last]
	n := len(c)
	h := uint64(tab) << 1
	if op == store.OpDelete {
		h |= 1
	}
	c = binary.AppendUvarint(c, h)
	for _, id := range ids {
		c = binary.AppendUvarint(c, uint64(id))
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
		b := l.chunks[r.chunk][r.off:]
		for range r.n {
			if len(out) == total {
				return out
			}
			h, k := binary.Uvarint(b)
			b = b[k:]
			t := x.byID[h>>1]
			op := store.OpInsert
			if h&1 != 0 {
				op = store.OpDelete
			}
			f := term.Fact{Predicate: t.pred, Args: make([]term.Value, t.arity)}
			for i := range f.Args {
				id, k := binary.Uvarint(b)
				b = b[k:]
				f.Args[i] = x.vals[id]
			}
			out = append(out, store.Change{Revision: r.rev, Op: op, Fact: f})
		}
	}
	return out
}
