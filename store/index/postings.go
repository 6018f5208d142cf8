package index

import (
	"iter"
	"math/bits"
)

// postBlock is the length of the blocks of a long recent list: a list
// keeps its first recent records in one slice that grows by appending, up
// to postBlock, and the later ones in blocks of postBlock allocated full,
// so a long list grows without copying what it holds.
const postBlock = 1024

// minFreeze is the number of recent records below which postings are not
// frozen.
const minFreeze = 4096

// postings maps the value ids of one argument position of a table to
// their posting lists (record numbers, ascending). It is an
// open-addressing hash set (linear probing, load at most 3/4) of list
// numbers keyed by keys, so a distinct value costs its key and 5 to 11
// bytes of slots, instead of a Go map's 40 to 75 bytes per entry.
//
// A list has two parts. The frozen part is in one flat array for all the
// lists (base, cut by offs), without a slice header or an allocation per
// list and without slack. The records added since the last freeze are the
// recent part, in a slice of their own per list (dlists, found through
// dix). When the recent records are more than a quarter of the frozen ones
// the postings are frozen again: every list is copied into a new flat
// array, which costs each record about five copies over its life.
type postings struct {
	slots []uint32 // 0: empty, else list number + 1
	shift uint     // 64 - log2(len(slots))
	keys  []uint32 // list number -> value id

	base []uint32 // the frozen parts of the lists, one after the other
	offs []uint32 // list number n < len(offs)-1 -> its part: base[offs[n]:offs[n+1]]

	// list number -> its recent records: 0 (or beyond the end): none;
	// one|r: the one record r; else the index in dlists + 1
	dix    []uint32
	dlists [][]uint32 // recent records of a list, up to postBlock
	// index in dlists -> the blocks of its later records, each of
	// postBlock records but the last
	more   map[uint32][][]uint32
	recent int // records in dlists and more

	lastID, lastN uint32 // the value id last added to and its list number
}

// one marks an entry of postings.dix that holds a record number.
const one = 1 << 31

// plist is one posting list: record numbers, ascending.
type plist struct {
	base []uint32
	one  uint32 // one|r: then record r, and no head
	head []uint32
	more [][]uint32
}

// Len returns the number of records in the list.
func (l plist) Len() int {
	n := len(l.base) + len(l.head)
	if l.one != 0 {
		n++
	}
	if len(l.more) > 0 {
		n += (len(l.more)-1)*postBlock + len(l.more[len(l.more)-1])
	}
	return n
}

// at returns record i of the list (i < Len()).
func (l plist) at(i int) uint32 {
	if i < len(l.base) {
		return l.base[i]
	}
	i -= len(l.base)
	if l.one != 0 {
		return l.one &^ one
	}
	if i < len(l.head) {
		return l.head[i]
	}
	i -= len(l.head)
	return l.more[i/postBlock][i%postBlock]
}

// all yields the records of the list in order.
func (l plist) all() iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for _, r := range l.base {
			if !yield(r) {
				return
			}
		}
		if l.one != 0 && !yield(l.one&^one) {
			return
		}
		for _, r := range l.head {
			if !yield(r) {
				return
			}
		}
		for _, b := range l.more {
			for _, r := range b {
				if !yield(r) {
					return
				}
			}
		}
	}
}

// newPostings returns postings sized for n values.
func newPostings(n int) postings {
	size := 8
	for size*3 < n*4 {
		size *= 2
	}
	return postings{
		slots: make([]uint32, size),
		shift: uint(64 - bits.TrailingZeros(uint(size))),
		keys:  make([]uint32, 0, n),
	}
}

// Len returns the number of values with a posting list.
func (p *postings) Len() int { return len(p.keys) }

func (p *postings) home(id uint32) int {
	return int((uint64(id) * 0x9E3779B97F4A7C15) >> p.shift)
}

// list returns list number n.
func (p *postings) list(n uint32) plist {
	var l plist
	if int(n) < len(p.offs)-1 {
		l.base = p.base[p.offs[n]:p.offs[n+1]]
	}
	if int(n) < len(p.dix) && p.dix[n] != 0 {
		if p.dix[n]&one != 0 {
			l.one = p.dix[n]
			return l
		}
		d := p.dix[n] - 1
		l.head = p.dlists[d]
		if len(l.head) == postBlock {
			l.more = p.more[d]
		}
	}
	return l
}

// get returns the posting list of value id (empty if none). The list must
// not be modified, and is valid while the caller holds the index's lock.
func (p *postings) get(id uint32) plist {
	mask := len(p.slots) - 1
	for i := p.home(id); ; i = (i + 1) & mask {
		switch v := p.slots[i]; {
		case v == 0:
			return plist{}
		case p.keys[v-1] == id:
			return p.list(v - 1)
		}
	}
}

// add appends record r, greater than every record listed, to the posting
// list of value id.
func (p *postings) add(id, r uint32) {
	if id == p.lastID && id != 0 {
		p.addRecent(p.lastN, r)
		return
	}
	mask := len(p.slots) - 1
	i := p.home(id)
	for ; ; i = (i + 1) & mask {
		v := p.slots[i]
		if v == 0 {
			break
		}
		if p.keys[v-1] == id {
			p.lastID, p.lastN = id, v-1
			p.addRecent(v-1, r)
			return
		}
	}
	if (len(p.keys)+1)*4 > len(p.slots)*3 {
		p.grow()
		p.add(id, r)
		return
	}
	p.keys = append(p.keys, id)
	p.slots[i] = uint32(len(p.keys))
	p.lastID, p.lastN = id, uint32(len(p.keys)-1)
	p.addRecent(p.lastN, r)
}

// addRecent appends r to the recent records of list number n.
func (p *postings) addRecent(n, r uint32) {
	if int(n) >= len(p.dix) {
		// Grown once to every list there is (and room for as many more),
		// not entry by entry.
		want := max(int(n)+1, len(p.keys))
		if want > cap(p.dix) {
			p.dix = append(p.dix[:cap(p.dix)], make([]uint32, max(want, 2*cap(p.dix))-cap(p.dix))...)
		}
		p.dix = p.dix[:cap(p.dix)]
	}
	p.recent++
	switch e := p.dix[n]; {
	case e == 0 && r < one:
		p.dix[n] = one | r
		p.maybeFreeze()
		return
	case e == 0:
		p.dlists = append(p.dlists, make([]uint32, 0, 2))
		p.dix[n] = uint32(len(p.dlists))
	case e&one != 0:
		p.dlists = append(p.dlists, append(make([]uint32, 0, 2), e&^one))
		p.dix[n] = uint32(len(p.dlists))
	}
	d := p.dix[n] - 1
	if l := p.dlists[d]; len(l) < postBlock {
		if len(l) == cap(l) { // grow to at most postBlock
			l = append(make([]uint32, 0, min(2*len(l), postBlock)), l...)
		}
		p.dlists[d] = append(l, r)
	} else {
		if p.more == nil {
			p.more = make(map[uint32][][]uint32)
		}
		bs := p.more[d]
		if len(bs) == 0 || len(bs[len(bs)-1]) == postBlock {
			bs = append(bs, make([]uint32, 0, postBlock))
		}
		bs[len(bs)-1] = append(bs[len(bs)-1], r)
		p.more[d] = bs
	}
	p.maybeFreeze()
}

// maybeFreeze freezes the postings once the recent records are more than
// a quarter of the frozen ones.
func (p *postings) maybeFreeze() {
	if p.recent >= minFreeze && p.recent > len(p.base)/4 {
		p.freeze()
	}
}

// freeze moves every list's recent records into a new flat array after
// its frozen ones. The old arrays are left as they were.
func (p *postings) freeze() {
	base := make([]uint32, 0, len(p.base)+p.recent)
	offs := make([]uint32, len(p.keys)+1)
	for n := range uint32(len(p.keys)) {
		offs[n] = uint32(len(base))
		l := p.list(n)
		base = append(base, l.base...)
		if l.one != 0 {
			base = append(base, l.one&^one)
		}
		base = append(base, l.head...)
		for _, b := range l.more {
			base = append(base, b...)
		}
	}
	offs[len(p.keys)] = uint32(len(base))
	p.base, p.offs = base, offs
	// dix is read under the lock only (list copies what it finds), so it
	// is kept, cleared, for the recent records to come.
	clear(p.dix)
	p.dlists, p.more, p.recent = nil, nil, 0
}

// grow doubles the slots.
func (p *postings) grow() {
	p.slots = make([]uint32, 2*len(p.slots))
	p.shift--
	mask := len(p.slots) - 1
	for n, id := range p.keys {
		i := p.home(id)
		for p.slots[i] != 0 {
			i = (i + 1) & mask
		}
		p.slots[i] = uint32(n + 1)
	}
}
