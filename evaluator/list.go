package evaluator

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"iter"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
)

// Page asks for one page of a List result.
type Page struct {
	// Size is the most ids to return; 0 returns all.
	Size int
	// Token is the NextToken of the previous page, or "" for the first.
	Token string
	// Cursors, when not nil, keeps the walk of a list that has more pages,
	// so that the next page resumes it where this one stopped; without it
	// (or once the walk was dropped) the next page starts the walk again
	// at the place its token names, without reading what comes before
	// (seek.go), or, where the token names none, walks the list again from
	// the start and skips the answers already returned.
	Cursors *Cursors
}

// ListResult is one page of the resources an actor may act on.
type ListResult struct {
	// IDs are the ids of the resources of the page: sorted when the whole
	// answer holds at most SortedMax ids, else in derivation order.
	IDs []string
	// Wildcard is set on the page where the walk found that the action is
	// allowed on every resource of the type (the first page when the
	// answer is sorted). IDs hold only the resources named by facts.
	Wildcard bool
	// NextToken fetches the next page; "" when this is the last.
	NextToken string
}

// SortedMax is the size up to which a List answer is sorted by id. A
// larger answer comes in derivation order (the order the walk finds the
// resources: rule by rule, stored facts in the order they were stored),
// which is stable for one revision, so that its pages can be returned as
// they are found rather than after the whole answer is computed.
const SortedMax = 1000

// List returns the ids of the resources of resourceType on which actor may
// perform action, including resources known only from context facts. It
// walks from the actor outward, lazily (see listWalk): a page costs the
// answers it returns, not the whole answer, and never enumerates every
// resource of the type. The first SortedMax+1 answers are read ahead, to
// sort an answer that small.
//
// A page token pins the revision of the first page: the caller must ask
// the next page with a Request whose source is at PageTokenRevision of the
// token (else ErrInvalidPageToken), so that the pages of one list are
// consistent whatever was written meanwhile. A token of another list
// (actor, action, type or context facts differ) or one this package did
// not issue is ErrInvalidPageToken.
func (e *Evaluator) List(ctx context.Context, r Request, actor term.Value, action, resourceType string, page Page) (ListResult, error) {
	q, err := e.newListQuery(r, actor, action, resourceType)
	if err != nil {
		return ListResult{}, err
	}
	var run *listRun
	var skip uint64
	if page.Token != "" {
		tok, err := decodePageToken(page.Token)
		if err != nil {
			return ListResult{}, err
		}
		if tok.fp != q.fp {
			return ListResult{}, fmt.Errorf("%w: it belongs to another list (actor, action, resource type or context facts differ)", ErrInvalidPageToken)
		}
		if rev := r.source().Revision(); rev != tok.rev {
			return ListResult{}, fmt.Errorf("%w: it reads revision %d, the source is at %d", ErrInvalidPageToken, tok.rev, rev)
		}
		if page.Cursors != nil {
			run = page.Cursors.take(tok.cursor, e, tok)
		}
		if run == nil && tok.stream != 0 {
			if run, err = e.resumeList(ctx, r, q, tok); err != nil {
				return ListResult{}, err
			}
		}
		if run == nil {
			skip = tok.pos
		}
	}
	if run == nil {
		var sk *seekState
		if page.Size > 0 {
			sk = &seekState{} // a page token may name a stream
		}
		run = e.startList(ctx, r, q, sk)
		if err := run.start(ctx); err != nil {
			return ListResult{}, err
		}
		if err := run.skip(ctx, skip); err != nil {
			return ListResult{}, err
		}
	}
	size := page.Size
	if size <= 0 {
		size = math.MaxInt - 2
	}
	// Two more than the page: one tells whether a page follows, the other
	// is room for the wildcard.
	if err := run.fill(ctx, size+2); err != nil {
		return ListResult{}, err
	}
	var res ListResult
	n, ids := 0, 0
	for ; n < len(run.buf) && ids < size; n++ {
		if v := run.buf[n]; isWild(v) {
			res.Wildcard = true
		} else {
			res.IDs = append(res.IDs, v.ID)
			ids++
		}
	}
	if n == len(run.buf)-1 && run.done && isWild(run.buf[n]) {
		res.Wildcard = true // the last answer: no page for it alone
		n++
	}
	tok := pageToken{rev: run.rev, fp: run.fp, pos: run.pos + uint64(n)}
	if n > 0 && run.seek != nil && run.pos+uint64(n) <= run.untagged && run.tags[n-1] != 0 && !isWild(run.buf[n-1]) {
		// Every answer up to the page's last came from a stream: a
		// replica without the walk resumes it there (seek.go).
		tok.stream, tok.last = run.tags[n-1], run.buf[n-1].ID
	}
	run.drop(n)
	if len(run.buf) == 0 {
		run.stop()
		return res, nil
	}
	if page.Cursors != nil {
		tok.cursor = page.Cursors.put(run)
	} else {
		run.stop()
	}
	res.NextToken = tok.encode()
	return res, nil
}

// ListEach calls yield with each id List returns for the whole answer
// (wildcard set, id "", where List reports Wildcard), as the walk finds
// them: an answer of any size costs the memory of its distinct ids, not of
// the answer. It stops when yield returns false. The first SortedMax+1
// answers are read before the first call, so an error of a small answer
// comes before any id; a larger one may fail after some ids were yielded.
func (e *Evaluator) ListEach(ctx context.Context, r Request, actor term.Value, action, resourceType string, yield func(id string, wildcard bool) bool) (err error) {
	q, err := e.newListQuery(r, actor, action, resourceType)
	if err != nil {
		return err
	}
	s := e.acquire(ctx, r.source(), r.Now)
	defer e.done(s, &err)
	var buf []term.Value
	streaming := false
	out := func(v term.Value) bool {
		if isWild(v) {
			return yield("", true)
		}
		return yield(v.ID, false)
	}
	e.walk(s, q, nil, func(v term.Value) bool {
		if streaming {
			return out(v)
		}
		buf = append(buf, v)
		if len(buf) <= SortedMax {
			return true
		}
		streaming = true
		for _, b := range buf {
			if !out(b) {
				return false
			}
		}
		buf = nil
		return true
	})
	if s.err != nil {
		return s.err
	}
	sortAnswers(buf)
	for _, b := range buf {
		if !out(b) {
			break
		}
	}
	return nil
}

// listQuery is one list question.
type listQuery struct {
	actor       term.Value
	action, typ string
	fp          uint64
	allow       *predInfo
}

func (e *Evaluator) newListQuery(r Request, actor term.Value, action, resourceType string) (listQuery, error) {
	if err := checkValue("actor", actor); err != nil {
		return listQuery{}, err
	}
	if resourceType == "" {
		return listQuery{}, fmt.Errorf("%w: resource type must not be empty", ErrInvalidQuery)
	}
	return listQuery{actor: actor, action: action, typ: resourceType, allow: e.pred("allow", 3),
		fp: listFingerprint(actor, action, resourceType, r.Context)}, nil
}

// walk runs the list walk of q on s and calls yield with each distinct
// answer: a resource of q's type, or once a wildcard (wild(type)) when the
// action is allowed on every resource of the type. seen, when not nil,
// counts the distinct ids held. The work limit bounds the steps between
// two answers.
func (e *Evaluator) walk(s *solver, q listQuery, seen *int, yield func(term.Value) bool) {
	var ids answerSet
	wildDone := false
	n := 0
	s.listWalk(q.allow, q.actor, q.action, q.typ, func(h hval) bool {
		v := s.value(h)
		switch {
		case isWild(v):
			if wildDone || !e.types.matches(q.typ, v.Type) {
				return true
			}
			if !s.seekOK() {
				return false
			}
			wildDone = true
			v = wild(q.typ)
		case v.Type == q.typ:
			if !s.seekOK() {
				return false
			}
			if !ids.add(s, e.seed, v, h) || s.seekDrop(h) {
				return true
			}
			if seen != nil {
				*seen++
			}
		default:
			return true
		}
		s.work = 0
		if n++; n%yieldEvery == 0 {
			// A long walk gives way to the goroutines waiting to run
			// (the checks a server answers meanwhile): it is not
			// preempted before its time slice ends otherwise.
			runtime.Gosched()
		}
		return yield(v)
	})
}

// yieldEvery is how many answers a list walk finds between two
// runtime.Gosched calls.
const yieldEvery = 64

// answerSet is the set of the distinct answers of a list walk. A value
// the source has an id for (IDSource) is kept by that id: in a small hash
// set of ids, then, past bitsetFrom ids, in a bitset of pages of 512 ids
// (a million answers from a store of a million values hold about 128 KiB
// and cost no hashing); any other value by its id string (idSet). A value
// always has the same id within one walk, so it is never in both. Nothing
// in it is a pointer the garbage collector must scan.
type answerSet struct {
	small []uint32 // open addressing, linear probing: id (0: empty)
	shift uint     // 32 - log2(len(small))
	n     int      // ids in small
	dir   []uint32 // id>>pageBits -> page number + 1 in pages (0: none)
	pages []uint64 // pageWords words a page
	strs  idSet
}

const (
	bitsetFrom = 4096
	pageBits   = 9
	pageWords  = 1 << pageBits / 64
)

// add adds v, of handle h (an answer of the walk s), and reports whether
// it was new.
func (a *answerSet) add(s *solver, seed maphash.Seed, v term.Value, h hval) bool {
	id := h.id()
	if h.kind() != hStore || id&localID != 0 {
		return a.strs.add(seed, v.ID)
	}
	return a.addID(id)
}

// addID adds the id of a value (not a local one) and reports whether it
// was new.
func (a *answerSet) addID(id uint32) bool {
	if a.dir != nil {
		return a.setBit(id)
	}
	if (a.n+1)*4 > len(a.small)*3 {
		if a.n >= bitsetFrom {
			a.dir = make([]uint32, 0, 64)
			for _, x := range a.small {
				if x != 0 {
					a.setBit(x)
				}
			}
			a.small = nil
			return a.setBit(id)
		}
		a.growSmall()
	}
	mask := uint32(len(a.small) - 1)
	for i := (id * 0x9E3779B1) >> a.shift; ; i = (i + 1) & mask {
		switch a.small[i] {
		case 0:
			a.small[i] = id
			a.n++
			return true
		case id:
			return false
		}
	}
}

func (a *answerSet) growSmall() {
	old := a.small
	a.small = make([]uint32, max(64, 2*len(old)))
	a.shift = uint(32 - bits.Len(uint(len(a.small)-1)))
	mask := uint32(len(a.small) - 1)
	for _, id := range old {
		if id == 0 {
			continue
		}
		i := (id * 0x9E3779B1) >> a.shift
		for a.small[i] != 0 {
			i = (i + 1) & mask
		}
		a.small[i] = id
	}
}

// setBit sets the bit of id and reports whether it was clear.
func (a *answerSet) setBit(id uint32) bool {
	p := int(id >> pageBits)
	if p >= len(a.dir) {
		a.dir = append(a.dir, make([]uint32, max(p+1, 2*len(a.dir))-len(a.dir))...)
	}
	if a.dir[p] == 0 {
		a.pages = append(a.pages, make([]uint64, pageWords)...)
		a.dir[p] = uint32(len(a.pages) / pageWords)
	}
	w := &a.pages[int(a.dir[p]-1)*pageWords+int(id&(1<<pageBits-1))/64]
	bit := uint64(1) << (id & 63)
	if *w&bit != 0 {
		return false
	}
	*w |= bit
	return true
}

// idSet is a set of strings by open addressing (linear probing, load at
// most 3/4). It holds no pointer the garbage collector must scan however
// large it grows: the strings are copied into chunks of bytes, and a slot
// holds the place of one there and 32 bits of its hash (tag), which spare
// most comparisons and place the slot: growing the table moves slots
// without reading the strings again, and a chunk is never copied. About 8
// bytes a slot plus the ids' bytes: 20 to 36 bytes an id of 8 bytes.
type idSet struct {
	refs   []uint32 // chunk<<idChunkBits | offset of an id: its length (uvarint), then its bytes
	tags   []uint32 // 0: empty, else the hash's high 32 bits | 1
	chunks [][]byte // of idChunk bytes each (an id longer has one of its own)
	n      int
}

const (
	idChunkBits = 20
	idChunk     = 1 << idChunkBits
)

// slotOf is the home slot of tag in a table of mask+1 slots.
func slotOf(tag uint32, mask uint64) uint64 { return uint64(tag>>1) & mask }

// add adds id and reports whether it was not in the set.
func (t *idSet) add(seed maphash.Seed, id string) bool {
	if (t.n+1)*4 > len(t.tags)*3 {
		t.grow()
	}
	tag := uint32(maphash.String(seed, id)>>32) | 1
	i, found := t.find(tag, id)
	if found {
		return false
	}
	need := binary.MaxVarintLen64 + len(id)
	c := len(t.chunks) - 1
	if c < 0 || len(t.chunks[c])+need > cap(t.chunks[c]) {
		t.chunks = append(t.chunks, make([]byte, 0, max(idChunk, need)))
		c++
	}
	b := t.chunks[c]
	off := len(b)
	b = binary.AppendUvarint(b, uint64(len(id)))
	t.chunks[c] = append(b, id...)
	t.refs[i], t.tags[i] = uint32(c)<<idChunkBits|uint32(off), tag
	t.n++
	return true
}

// find returns the slot of id (found) or the empty slot where it goes.
func (t *idSet) find(tag uint32, id string) (uint64, bool) {
	mask := uint64(len(t.tags) - 1)
	for i := slotOf(tag, mask); ; i = (i + 1) & mask {
		switch t.tags[i] {
		case 0:
			return i, false
		case tag:
			if string(t.bytesAt(t.refs[i])) == id {
				return i, true
			}
		}
	}
}

// bytesAt returns the id stored at ref.
func (t *idSet) bytesAt(ref uint32) []byte {
	b := t.chunks[ref>>idChunkBits][ref&(idChunk-1):]
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)]
}

func (t *idSet) grow() {
	oldRefs, oldTags := t.refs, t.tags
	size := max(64, 2*len(oldTags))
	t.refs, t.tags = make([]uint32, size), make([]uint32, size)
	mask := uint64(size - 1)
	for i, tag := range oldTags {
		if tag == 0 {
			continue
		}
		j := slotOf(tag, mask)
		for t.tags[j] != 0 {
			j = (j + 1) & mask
		}
		t.refs[j], t.tags[j] = oldRefs[i], tag
	}
}

// sortAnswers sorts a whole answer: the wildcard first, then by id (the
// walk's answers are of one type, and hold at most one wildcard).
func sortAnswers(vs []term.Value) {
	rest := vs
	for i, v := range vs {
		if isWild(v) {
			vs[0], vs[i] = vs[i], vs[0]
			rest = vs[1:]
			break
		}
	}
	if len(rest) < 2 {
		return
	}
	typ := rest[0].Type
	for _, v := range rest {
		if v.Type != typ {
			slices.SortFunc(rest, func(a, b term.Value) int {
				return cmp.Or(strings.Compare(a.Type, b.Type), strings.Compare(a.ID, b.ID))
			})
			return
		}
	}
	// Ids of one list often share a prefix ("repo-0001..."): each is
	// keyed by the 8 bytes after the prefix they all share, read as a
	// big-endian integer (zero-padded, so that keys order as the strings
	// do), and the strings are compared only when keys tie.
	pre := rest[0].ID
	for _, v := range rest[1:] {
		n := 0
		for n < len(pre) && n < len(v.ID) && pre[n] == v.ID[n] {
			n++
		}
		pre = pre[:n]
	}
	type keyed struct {
		key uint64
		id  string
	}
	ks := make([]keyed, len(rest))
	for i, v := range rest {
		var b [8]byte
		copy(b[:], v.ID[len(pre):])
		ks[i] = keyed{binary.BigEndian.Uint64(b[:]), v.ID}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return strings.Compare(a.id, b.id)
	})
	for i, k := range ks {
		rest[i].ID = k.id
	}
}

// listRun is a list walk in progress, suspended between the pages of a
// list (iter.Pull): its distinct answers in walk order.
type listRun struct {
	e        *Evaluator
	fp, rev  uint64
	pos      uint64 // answers returned so far (the wildcard counts)
	next     func() (struct{}, bool)
	stopWalk func()
	want     int     // the walk appends to buf until it holds want answers
	s        *solver // the walk's solver, while the walk runs
	err      error   // the walk's error, once it ended
	buf      []term.Value
	tags     []uint64 // with seek: the stream (seek.go) each answer of buf came from, 0: none
	untagged uint64   // the place (counted as pos) of the first answer from no stream
	seek     *seekState
	done     bool // the walk ended: buf holds the rest of the answer
	seen     int  // distinct ids the walk holds
	used     time.Time
}

// startList starts (suspended) the walk of q, keeping its streams in sk
// (seek.go) when the source matches on ids.
func (e *Evaluator) startList(ctx context.Context, r Request, q listQuery, sk *seekState) *listRun {
	run := &listRun{e: e, fp: q.fp, rev: r.source().Revision(), untagged: math.MaxUint64, seek: sk}
	if sk != nil {
		run.tags = make([]uint64, 0, SortedMax+1) // what start reads ahead
	}
	// The walk appends its answers to run.buf itself and gives control
	// back only once buf holds run.want of them (or it ended): one switch
	// of coroutine per fill, not one per answer.
	run.next, run.stopWalk = iter.Pull(func(yield func(struct{}) bool) {
		s := e.acquire(ctx, r.source(), r.Now)
		run.s = s
		if s.ids != nil && sk != nil {
			s.seek = sk
		}
		e.runWalk(s, run, q, func(v term.Value) bool {
			if sk != nil {
				var tag uint64
				if s.seek != nil {
					tag = s.seek.cur
				}
				if tag == 0 && run.untagged == math.MaxUint64 {
					run.untagged = run.pos + uint64(len(run.buf))
				}
				run.tags = append(run.tags, tag)
			}
			run.buf = append(run.buf, v)
			return len(run.buf) < run.want || yield(struct{}{})
		})
	})
	return run
}

func (e *Evaluator) runWalk(s *solver, run *listRun, q listQuery, yield func(term.Value) bool) {
	var err error
	defer func() { run.err, run.s, s.seek = err, nil, nil }()
	defer e.done(s, &err)
	e.walk(s, q, &run.seen, yield)
	err = s.err
}

// start reads the first SortedMax+1 answers and sorts the answer when
// that is all of it.
func (run *listRun) start(ctx context.Context) error {
	if err := run.fill(ctx, SortedMax+1); err != nil {
		return err
	}
	if run.done {
		sortAnswers(run.buf)
		run.untagged = 0 // the answers are no longer in stream order
	}
	return nil
}

// resumeList starts the walk of q resumed after the stream answer of tok
// (seek.go), or returns nil when it cannot: the source has no ids, or an
// answer before the token came from no stream.
func (e *Evaluator) resumeList(ctx context.Context, r Request, q listQuery, tok pageToken) (*listRun, error) {
	if _, ok := r.source().(IDSource); !ok {
		return nil, nil
	}
	sk := newSeekResume(tok.stream, q.typ, tok.last)
	run := e.startList(ctx, r, q, sk)
	if err := run.fill(ctx, 1); err != nil {
		return nil, err
	}
	if sk.mode != seekResumed {
		run.stop()
		return nil, nil
	}
	run.pos = tok.pos
	if run.untagged != math.MaxUint64 {
		run.untagged += tok.pos
	}
	return run, nil
}

// drop removes the first n answers of buf.
func (run *listRun) drop(n int) {
	run.buf = run.buf[:copy(run.buf, run.buf[n:])]
	if run.seek != nil {
		run.tags = run.tags[:copy(run.tags, run.tags[n:])]
	}
	run.pos += uint64(n)
}

// skip drops the first n answers (a page token whose walk was not kept).
func (run *listRun) skip(ctx context.Context, n uint64) error {
	for n > 0 {
		if err := run.fill(ctx, int(min(n, 4096))); err != nil {
			return err
		}
		k := min(n, uint64(len(run.buf)))
		if k == 0 {
			return nil
		}
		run.drop(int(k))
		n -= k
	}
	return nil
}

// fill reads answers until buf holds n or the walk ends, under ctx.
func (run *listRun) fill(ctx context.Context, n int) error {
	if run.s != nil {
		run.s.ctx = ctx
	}
	for !run.done && len(run.buf) < n {
		run.want = n
		if _, ok := run.next(); !ok {
			run.done = true
			run.stop()
			if run.err != nil {
				return run.err
			}
			break
		}
	}
	return nil
}

// stop ends the walk, releasing its solver.
func (run *listRun) stop() { run.stopWalk() }

// Cursors keeps the suspended walks of paged lists between their pages
// (see Page.Cursors), for a bounded number of lists and a bounded time. A
// kept walk holds its solver and the set of the distinct ids it returned
// (a bit or a few bytes each when the source gives ids, 20 to 40 bytes
// each otherwise); it belongs to one Evaluator (a list whose policy changed
// walks again). Safe for concurrent use. A kept walk is an iter.Pull
// coroutine: List must not be called from a goroutine locked to its OS
// thread (runtime.LockOSThread) with a Cursors that other goroutines use.
type Cursors struct {
	mu     sync.Mutex
	max    int
	maxIDs int
	ttl    time.Duration
	runs   map[uint64]*listRun
	ids    int
}

// NewCursors returns a Cursors that keeps at most max walks holding at
// most maxIDs distinct ids in all (a stream a resumed walk noted counts as
// streamWeight ids), each for ttl after its last page.
func NewCursors(max, maxIDs int, ttl time.Duration) *Cursors {
	return &Cursors{max: max, maxIDs: maxIDs, ttl: ttl, runs: make(map[uint64]*listRun)}
}

// streamWeight is what a stream noted by a resumed walk (seek.go) counts
// for in Cursors' budget of ids: its key in a map takes about 57 bytes, an
// id in the walk's answer set at most 8.
const streamWeight = 8

// weight is what run holds, in ids: the distinct answers it returned, and
// the streams it noted when it was resumed from a token. It does not
// change while the walk is suspended.
func (run *listRun) weight() int {
	w := run.seen
	if run.seek != nil {
		w += streamWeight * run.seek.noted
	}
	return w
}

// put keeps run and returns its id (0 when it is not kept).
func (c *Cursors) put(run *listRun) uint64 {
	w := run.weight()
	if c.max <= 0 || w > c.maxIDs {
		run.stop()
		return 0
	}
	now := time.Now()
	run.used = now
	id := rand.Uint64() | 1
	c.mu.Lock()
	drop := c.expire(now, nil)
	for len(c.runs) >= c.max || c.ids+w > c.maxIDs {
		var oldID uint64
		var old *listRun
		for k, r := range c.runs {
			if old == nil || r.used.Before(old.used) {
				oldID, old = k, r
			}
		}
		if old == nil {
			break
		}
		drop = append(drop, c.remove(oldID))
	}
	c.runs[id] = run
	c.ids += w
	c.mu.Unlock()
	for _, r := range drop {
		r.stop()
	}
	return id
}

// take removes and returns the walk id when it is at the place tok says,
// of the same list under e; else nil.
func (c *Cursors) take(id uint64, e *Evaluator, tok pageToken) *listRun {
	c.mu.Lock()
	drop := c.expire(time.Now(), nil)
	run := c.runs[id]
	if run != nil {
		c.remove(id)
	}
	c.mu.Unlock()
	for _, r := range drop {
		r.stop()
	}
	if run == nil {
		return nil
	}
	if run.e != e || run.fp != tok.fp || run.rev != tok.rev || run.pos != tok.pos {
		run.stop()
		return nil
	}
	return run
}

// Clear stops every walk kept (their lists' next pages walk again).
func (c *Cursors) Clear() {
	c.mu.Lock()
	var drop []*listRun
	for id := range c.runs {
		drop = append(drop, c.remove(id))
	}
	c.mu.Unlock()
	for _, r := range drop {
		r.stop()
	}
}

// Len returns the number of walks kept.
func (c *Cursors) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.runs)
}

// expire removes the walks unused for ttl and appends them to drop.
// Callers hold mu.
func (c *Cursors) expire(now time.Time, drop []*listRun) []*listRun {
	for id, r := range c.runs {
		if now.Sub(r.used) > c.ttl {
			drop = append(drop, c.remove(id))
		}
	}
	return drop
}

func (c *Cursors) remove(id uint64) *listRun {
	r := c.runs[id]
	delete(c.runs, id)
	c.ids -= r.weight()
	return r
}

// pageToken is what a List page token says: the revision the list reads,
// the fingerprint of its question, the answers returned so far, the kept
// walk (0 for none), and, when the last answer returned came from a stream
// of the walk (seek.go), that stream's number and the answer's id (stream
// 0: none). Encoded, it is versioned and carries a checksum (it is
// checked, not secret).
type pageToken struct {
	rev, fp, pos, cursor uint64
	stream               uint64
	last                 string
}

// pageTokenVersion is the version of the tokens List issues; it reads
// those of version 2 too (no stream).
const pageTokenVersion = 3

var pageTokenDomain = []byte("castellan list page token\x00")

func (t pageToken) encode() string { return t.encodeVersion(pageTokenVersion) }

func (t pageToken) encodeVersion(version byte) string {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+16+len(t.last)+8)
	b = append(b, version)
	b = binary.AppendUvarint(b, t.rev)
	b = binary.LittleEndian.AppendUint64(b, t.fp)
	b = binary.AppendUvarint(b, t.pos)
	b = binary.LittleEndian.AppendUint64(b, t.cursor)
	if version >= 3 {
		b = binary.AppendUvarint(b, t.stream)
		b = binary.AppendUvarint(b, uint64(len(t.last)))
		b = append(b, t.last...)
	}
	return base64.RawURLEncoding.EncodeToString(append(b, pageTokenSum(b)...))
}

func pageTokenSum(b []byte) []byte {
	h := sha256.New()
	h.Write(pageTokenDomain)
	h.Write(b)
	return h.Sum(nil)[:8]
}

func decodePageToken(s string) (pageToken, error) {
	bad := fmt.Errorf("decoding page token: %w", ErrInvalidPageToken)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+8 || (b[0] != pageTokenVersion && b[0] != 2) {
		return pageToken{}, bad
	}
	version := b[0]
	body, sum := b[:len(b)-8], b[len(b)-8:]
	if string(pageTokenSum(body)) != string(sum) {
		return pageToken{}, bad
	}
	var t pageToken
	rest := body[1:]
	var n int
	if t.rev, n = binary.Uvarint(rest); n <= 0 || len(rest) < n+8 {
		return pageToken{}, bad
	}
	rest = rest[n:]
	t.fp, rest = binary.LittleEndian.Uint64(rest), rest[8:]
	if t.pos, n = binary.Uvarint(rest); n <= 0 || len(rest) < n+8 {
		return pageToken{}, bad
	}
	rest = rest[n:]
	t.cursor, rest = binary.LittleEndian.Uint64(rest), rest[8:]
	if version >= 3 {
		if t.stream, n = binary.Uvarint(rest); n <= 0 {
			return pageToken{}, bad
		}
		rest = rest[n:]
		l, n := binary.Uvarint(rest)
		if n <= 0 || uint64(len(rest)-n) != l {
			return pageToken{}, bad
		}
		t.last, rest = string(rest[n:]), nil
	}
	if len(rest) != 0 || t.encodeVersion(version) != s {
		// Only the canonical spelling is a token: base64 decoding skips
		// CR and LF, and a varint may be written longer than it needs.
		return pageToken{}, bad
	}
	return t, nil
}

// PageTokenRevision returns the revision a List page token reads: the
// next page must be asked with a source at that revision. A token this
// package did not issue is ErrInvalidPageToken.
func PageTokenRevision(token string) (uint64, error) {
	t, err := decodePageToken(token)
	if err != nil {
		return 0, err
	}
	return t.rev, nil
}

// listFingerprint identifies a list question: the pages of one list must
// ask the same.
func listFingerprint(actor term.Value, action, typ string, ctxFacts []term.Fact) uint64 {
	h := fnv.New64a()
	put := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	put(actor.Type)
	put(actor.ID)
	put(action)
	put(typ)
	for _, f := range ctxFacts {
		put(f.Predicate)
		for _, a := range f.Args {
			put(a.Type)
			put(a.ID)
		}
		lo, hi := f.Valid.Nanos()
		h.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, uint64(lo)), uint64(hi)))
	}
	return h.Sum64()
}
