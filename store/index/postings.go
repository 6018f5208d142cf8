package index

import (
	"iter"
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
// open-addressing hash table (linear probing, load 1/2 to 3/4) of slots
// that hold a value id with where its list is, so that a lookup reads one
// slot (two or more only on a collision) and then the records: a
// distinct value costs 21 to 32 bytes of slots, instead of a Go map's 40
// to 75 bytes per entry and a slice per list.
//
// A list has two parts. The frozen part is in one flat array for all the
// lists (base, cut by the slots' off and n), without a slice header or an
// allocation per list and without slack; a frozen part of one record is
// kept in its slot, not in base. The records added since the last freeze
// are the recent part, in a slice of their own per list (dlists, found
// through the slot's rec).
// When the recent records are more than a quarter of the frozen ones the
// postings are frozen again: every list is copied into a new flat array,
// which costs each record about five copies over its life.
type postings struct {
	slots []pslot
	lists int // values with a list

	base   []uint32 // the frozen parts of the lists of more than one record
	frozen int      // records in the frozen parts (base and the slots)

	dlists [][]uint32 // recent records of a list, up to postBlock
	// index in dlists -> the blocks of its later records, each of
	// postBlock records but the last
	more   map[uint32][][]uint32
	recent int // records in dlists and more

	lastID   uint32 // the value id last added to (0: none)
	lastSlot int    // and its slot
}

// pslot is one slot of postings: a value id (0: an empty slot) and its
// list. The frozen part of the list is base[off:off+n], or, when n is 1,
// the record off.
type pslot struct {
	id uint32
	// rec is the list's recent records: 0: none; one|r: the one record
	// r; else the index in dlists + 1
	rec uint32
	off uint32
	n   uint32
}

// one marks a pslot.rec that holds a record number.
const one = 1 << 31

// plist is one posting list: record numbers, ascending.
type plist struct {
	first uint32 // one|r: the frozen part is the one record r, and base is empty
	base  []uint32
	one   uint32 // one|r: then record r, and no head
	head  []uint32
	more  [][]uint32
}

// Len returns the number of records in the list.
func (l plist) Len() int {
	n := len(l.base) + len(l.head)
	if l.first != 0 {
		n++
	}
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
	if l.first != 0 {
		if i == 0 {
			return l.first &^ one
		}
		i--
	}
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
		if l.first != 0 && !yield(l.first&^one) {
			return
		}
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

// reduce maps hash h onto [0, n) (Lemire's multiply-shift), so that a
// hash table may have any number of slots, not only a power of two: it
// grows by half, not by doubling, and holds 1.33 to 2 slots per key.
func reduce(h uint32, n int) int { return int(uint64(h) * uint64(n) >> 32) }

// next returns the slot after i in a table of n slots (linear probing).
func next(i, n int) int {
	if i++; i == n {
		return 0
	}
	return i
}

// newPostings returns postings sized for n values.
func newPostings(n int) postings {
	return postings{slots: make([]pslot, max(8, (n*4+2)/3))}
}

// Len returns the number of values with a posting list.
func (p *postings) Len() int { return p.lists }

func (p *postings) home(id uint32) int {
	return reduce(uint32((uint64(id)*0x9E3779B97F4A7C15)>>32), len(p.slots))
}

// list returns the list of slot s.
func (p *postings) list(s *pslot) plist {
	var l plist
	switch {
	case s.n == 1:
		l.first = one | s.off
	case s.n > 1:
		l.base = p.base[s.off : s.off+s.n : s.off+s.n]
	}
	if e := s.rec; e != 0 {
		switch {
		case e&one != 0:
			l.one = e
		default:
			d := e - 1
			l.head = p.dlists[d]
			if len(l.head) == postBlock {
				l.more = p.more[d]
			}
		}
	}
	return l
}

// slot returns the slot of value id, nil if it has no list. The slot must
// not be modified, and is valid while the caller holds the index's lock.
func (p *postings) slot(id uint32) *pslot {
	for i := p.home(id); ; i = next(i, len(p.slots)) {
		s := &p.slots[i]
		if s.id == id {
			return s
		}
		if s.id == 0 {
			return nil
		}
	}
}

// count returns the number of records in the list of slot s.
func (p *postings) count(s *pslot) int {
	n := int(s.n)
	if e := s.rec; e != 0 {
		switch {
		case e&one != 0:
			n++
		default:
			d := e - 1
			h := len(p.dlists[d])
			n += h
			if h == postBlock {
				if bs := p.more[d]; len(bs) > 0 {
					n += (len(bs)-1)*postBlock + len(bs[len(bs)-1])
				}
			}
		}
	}
	return n
}

// get returns the posting list of value id (empty if none). The list must
// not be modified, and is valid while the caller holds the index's lock.
func (p *postings) get(id uint32) plist {
	for i := p.home(id); ; i = next(i, len(p.slots)) {
		s := &p.slots[i]
		if s.id == id {
			return p.list(s)
		}
		if s.id == 0 {
			return plist{}
		}
	}
}

// add appends record r, greater than every record listed, to the posting
// list of value id (not 0).
func (p *postings) add(id, r uint32) {
	if id == p.lastID {
		p.addRecent(&p.slots[p.lastSlot], r)
		return
	}
	i := p.home(id)
	for ; ; i = next(i, len(p.slots)) {
		s := &p.slots[i]
		if s.id == 0 {
			break
		}
		if s.id == id {
			p.lastID, p.lastSlot = id, i
			p.addRecent(s, r)
			return
		}
	}
	if (p.lists+1)*4 > len(p.slots)*3 {
		p.grow()
		p.add(id, r)
		return
	}
	p.slots[i] = pslot{id: id}
	p.lists++
	p.lastID, p.lastSlot = id, i
	p.addRecent(&p.slots[i], r)
}

// addRecent appends r to the recent records of the list of slot s.
func (p *postings) addRecent(s *pslot, r uint32) {
	p.recent++
	switch e := s.rec; {
	case e == 0 && r < one:
		s.rec = one | r
		p.maybeFreeze()
		return
	case e == 0:
		p.dlists = append(p.dlists, make([]uint32, 0, 2))
		s.rec = uint32(len(p.dlists))
	case e&one != 0:
		p.dlists = append(p.dlists, append(make([]uint32, 0, 2), e&^one))
		s.rec = uint32(len(p.dlists))
	}
	d := s.rec - 1
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
	if p.recent >= minFreeze && p.recent > p.frozen/4 {
		p.freeze()
	}
}

// freeze moves every list's recent records into a new flat array after
// its frozen ones (a list of one record into its slot). The old arrays are
// left as they were.
func (p *postings) freeze() {
	base := make([]uint32, 0, len(p.base)+p.recent)
	for i := range p.slots {
		s := &p.slots[i]
		if s.id == 0 {
			continue
		}
		if s.rec == 0 { // frozen only: in its slot, or copied
			if s.n > 1 {
				off := uint32(len(base))
				base = append(base, p.base[s.off:s.off+s.n]...)
				s.off = off
			}
			continue
		}
		l := p.list(s)
		if l.Len() == 1 {
			*s = pslot{id: s.id, off: l.at(0), n: 1}
			continue
		}
		off := uint32(len(base))
		if l.first != 0 {
			base = append(base, l.first&^one)
		}
		base = append(base, l.base...)
		if l.one != 0 {
			base = append(base, l.one&^one)
		}
		base = append(base, l.head...)
		for _, b := range l.more {
			base = append(base, b...)
		}
		*s = pslot{id: s.id, off: off, n: uint32(len(base)) - off}
	}
	p.base = base
	p.frozen += p.recent
	p.dlists, p.more, p.recent = nil, nil, 0
}

// grow makes the slots half as many again (at a load of 3/4, so 1/2
// after).
func (p *postings) grow() {
	old := p.slots
	p.slots = make([]pslot, len(old)+len(old)/2)
	p.lastID = 0
	for _, s := range old {
		if s.id == 0 {
			continue
		}
		i := p.home(s.id)
		for p.slots[i].id != 0 {
			i = next(i, len(p.slots))
		}
		p.slots[i] = s
	}
}
