package evaluator

import "github.com/castellan-authz/castellan/lang/term"

// Resuming a paged list whose walk was not kept (another replica got the
// token, the walk was evicted, the server restarted) without walking the
// answers before the token again.
//
// Most answers of a list walk come from one kind of read: a stored fact
// read, unfolded, in which the answer variable is the only unbound
// argument and after which nothing runs but the yield of the answer (the
// read is the last step of its body, and that body's call the last step of
// its caller's, up to allow). Such a read is a stream: its answers are the
// values at the answer's position of the facts matching its bound
// arguments, in record order, each an answer unless an earlier read gave
// it. The walk numbers its streams in walk order (seekTrack) and a page
// token names the stream of its last answer and that answer's id: both
// are the same on every replica loading the same facts in the same order
// (the order the skip by count relies on already), and neither depends on
// the store's interned ids.
//
// A walk resumed from such a token (seekCollect) runs the walk without
// reading the streams before the token's: each is only noted by its
// arguments (seekKey). It starts the token's stream after the token's
// answer (MatchIDsAfter, where the source can; else it reads the stream up
// to that answer), and from there on runs as usual (seekResumed), but
// drops a new answer that a noted stream holds: one probe of the facts
// holding that answer at a noted stream's position per kind of stream
// (seekShape). The token's stream is noted once read: an answer of it
// after the token's was returned by this walk already. This replaces the
// set of the answers returned before the token, which a resumed walk does
// not have. An answer before the token that did not come from a stream (a
// tabled call, a wildcard, a value a rule names) would be missed: the walk
// then fails the resume (seekFailed) as soon as it meets one, and List
// walks the list again and skips the answers before the token, as before.

// seekCtx says where the answer variable of a list walk is in the body
// run with a bodyCtx: ans is its slot + 1 from the body's base (0: not
// known), tail that a solution of the body is an answer (nothing runs
// after it but yields).
type seekCtx struct {
	ans  int32
	tail bool
}

type seekMode uint8

const (
	seekTrack   seekMode = iota // number the streams, tag each answer with its stream
	seekCollect                 // note the streams before target; read target to last
	seekResumed                 // past the token's answer: answers of noted streams are dropped
	seekFailed                  // an answer before the token came from no stream
)

// seekArity is the largest arity of a stream's relation.
const seekArity = 4

// seekState is the stream bookkeeping of one paged list walk.
type seekState struct {
	mode seekMode
	n    uint64 // streams met so far, in walk order
	cur  uint64 // the stream being read (its number), 0 outside streams

	// A resumed walk: the token's stream and last answer (of type typ),
	// the streams noted (before the token's, and it once read).
	target    uint64
	typ, last string
	lastID    uint32 // last's id in the source (0: none)
	shapes    []seekShape
	targetKey seekKey // the token's stream, noted once read
	noted     int     // the distinct streams noted, in all shapes
	probe     []uint32
}

// seekKey is a stream: the relation, the answer's position q of n, the
// type its answers must match ("" any) and the ids of the bound
// arguments (0 at q).
type seekKey struct {
	rel  int32
	q, n uint8
	typ  uint32 // a type number (0: any)
	ids  [seekArity]uint32
}

// seekShape is a kind of stream (a seekKey without ids) and the bound
// ids of the streams of that kind noted.
type seekShape struct {
	key  seekKey
	seen map[[seekArity]uint32]struct{}
}

func newSeekResume(target uint64, typ, last string) *seekState {
	return &seekState{mode: seekCollect, target: target, typ: typ, last: last}
}

// seekRule returns the seekCtx of the body of rule r run for the call
// steps[i] of a body run with bc at base.
func (s *solver) seekRule(bc *bodyCtx, base int, steps []step, i int, r *crule) seekCtx {
	if s.seek == nil || !bc.seek.tail || bc.seek.ans == 0 || i+1 != len(steps) {
		return seekCtx{}
	}
	ans := s.deref(base + int(bc.seek.ans) - 1)
	j := -1
	for k, a := range steps[i].lit.args {
		if a.kind == opVar && s.deref(base+a.slot) == ans {
			if j >= 0 {
				return seekCtx{}
			}
			j = k
		}
	}
	if j < 0 || j >= len(r.head) || r.head[j].kind != opVar {
		return seekCtx{}
	}
	return seekCtx{ans: int32(r.head[j].slot) + 1, tail: true}
}

// seekOpen is called before the unfolded fact read steps[i] (of relation
// rel, bound ids want, goal arguments args) of a body run with bc at base.
// It returns the answer's position when the read is a stream (-1 when not,
// or when the walk keeps no streams), and skip when the read is a stream
// before a resumed token's, noted and not to be read.
func (s *solver) seekOpen(bc *bodyCtx, base int, steps []step, i, rel int, want []uint32, args []hval) (q int, skip bool) {
	sk := s.seek
	if sk == nil || !bc.seek.tail || bc.seek.ans == 0 || i+1 != len(steps) || len(want) > seekArity {
		return -1, false
	}
	q = -1
	for k, id := range want {
		if id == 0 {
			if q >= 0 {
				return -1, false
			}
			q = k
		}
	}
	if q < 0 {
		return -1, false
	}
	a := steps[i].lit.args[q]
	if a.kind != opVar || s.deref(base+a.slot) != s.deref(base+int(bc.seek.ans)-1) {
		return -1, false
	}
	sk.n++
	if sk.mode == seekCollect {
		k := seekKey{rel: int32(rel), q: uint8(q), n: uint8(len(want)), typ: args[q].typ()}
		copy(k.ids[:], want)
		if sk.n < sk.target {
			sk.note(k)
			return q, true
		}
		sk.targetKey = k
		sk.lastID, _ = s.idOf(term.Value{Type: sk.typ, ID: sk.last})
	}
	sk.cur = sk.n
	return q, false
}

// note adds stream k to the streams noted.
func (sk *seekState) note(k seekKey) {
	ids := k.ids
	k.ids = [seekArity]uint32{}
	i := len(sk.shapes) - 1
	for ; i >= 0 && sk.shapes[i].key != k; i-- {
	}
	if i < 0 {
		sk.shapes = append(sk.shapes, seekShape{key: k, seen: make(map[[seekArity]uint32]struct{})})
		i = len(sk.shapes) - 1
	}
	if _, ok := sk.shapes[i].seen[ids]; !ok {
		sk.shapes[i].seen[ids] = struct{}{}
		sk.noted++
	}
}

// idSeeker is an IDSource that can start a match after a given fact
// (store/index's Snapshot: see its MatchIDsAfter).
type idSeeker interface {
	MatchIDsAfter(rel int, ids, after []uint32, yield func(ids []uint32) bool) bool
}

// seekMatch is MatchIDs for the fact read whose answer is at position q
// when it is a stream (else -1): a resumed walk reading the token's stream
// starts after the token's answer, where the source can seek there, else
// reads the stream from its start and passes the facts up to that answer
// (seekPass).
func (s *solver) seekMatch(rel int, want []uint32, q int, yield func(ids []uint32) bool) {
	if sk := s.seek; q >= 0 && sk.mode == seekCollect && sk.lastID != 0 {
		if seeker, ok := s.ids.(idSeeker); ok {
			after := append(sk.probe[:0], want...)
			after[q] = sk.lastID
			sk.probe = after
			sk.mode = seekResumed
			if seeker.MatchIDsAfter(rel, want, after, yield) {
				return
			}
			sk.mode = seekCollect
		}
	}
	s.ids.MatchIDs(rel, want, yield)
}

// seekPass is called with the answer's id of each fact a stream reads: it
// reports whether the fact is read (false while a resumed walk reads the
// token's stream up to the token's answer).
func (s *solver) seekPass(id uint32) bool {
	sk := s.seek
	if sk.mode != seekCollect {
		return true
	}
	if id == sk.lastID {
		sk.mode = seekResumed
	}
	return false
}

// seekClose ends a stream's read; false stops the walk (the token's stream
// does not hold the token's answer). Once the token's stream is read, it
// is noted with the streams before the token: an answer of a later
// stream that it holds came before the token's answer (one after it was
// returned by this walk already, and the walk's set of answers drops it).
func (s *solver) seekClose() bool {
	sk := s.seek
	if sk.mode == seekCollect {
		sk.mode = seekFailed
		sk.cur = 0
		return false
	}
	if sk.cur == sk.target && sk.mode == seekResumed {
		sk.note(sk.targetKey)
	}
	sk.cur = 0
	return true
}

// seekOK is called with each answer of the walk before it is returned:
// false when the walk must stop (an answer before a resumed token's that
// came from no stream: the resume fails).
func (s *solver) seekOK() bool {
	sk := s.seek
	if sk == nil || sk.mode == seekTrack || sk.mode == seekResumed {
		return true
	}
	sk.mode = seekFailed
	return false
}

// seekDrop reports whether the new answer h of a resumed walk was returned
// before its token (a stream before the token's position held it).
func (s *solver) seekDrop(h hval) bool {
	return s.seek != nil && s.seek.mode == seekResumed && s.seekSeen(h)
}

// seekSeen reports whether a noted stream holds h (a fact with h at its
// position): one probe per kind of stream. Only a value the source holds
// (a store handle) can be in a stream.
func (s *solver) seekSeen(h hval) bool {
	sk := s.seek
	if h.kind() != hStore {
		return false
	}
	id := h.id()
	for i := range sk.shapes {
		sh, seen := sk.shapes[i].key, sk.shapes[i].seen
		if sh.typ != 0 && !s.typeMatches(h.typ(), sh.typ) {
			continue
		}
		want := sk.probe[:0]
		for range sh.n {
			want = append(want, 0)
		}
		sk.probe = want
		want[sh.q] = id
		found := false
		s.ids.MatchIDs(int(sh.rel), want, func(ids []uint32) bool {
			var k [seekArity]uint32
			copy(k[:], ids)
			k[sh.q] = 0
			_, found = seen[k]
			return !found
		})
		if found {
			return true
		}
	}
	return false
}
