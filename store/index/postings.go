package index

import "math/bits"

// postings maps the value ids of one argument position of a table to
// their posting lists (record numbers, ascending). It is an
// open-addressing hash set (linear probing, load at most 3/4) of list
// numbers keyed by keys, so a distinct value costs its list's slice header,
// its key and 5 to 11 bytes of slots, instead of a Go map's 40 to 75 bytes
// per entry.
type postings struct {
	slots []uint32   // 0: empty, else list number + 1
	shift uint       // 64 - log2(len(slots))
	keys  []uint32   // list number -> value id
	lists [][]uint32 // list number -> record numbers, ascending
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
		lists: make([][]uint32, 0, n),
	}
}

// Len returns the number of values with a posting list.
func (p *postings) Len() int { return len(p.keys) }

func (p *postings) home(id uint32) int {
	return int((uint64(id) * 0x9E3779B97F4A7C15) >> p.shift)
}

// get returns the posting list of value id (nil if none). The list must
// not be modified.
func (p *postings) get(id uint32) []uint32 {
	mask := len(p.slots) - 1
	for i := p.home(id); ; i = (i + 1) & mask {
		switch v := p.slots[i]; {
		case v == 0:
			return nil
		case p.keys[v-1] == id:
			return p.lists[v-1]
		}
	}
}

// add appends record r, greater than every record listed, to the posting
// list of value id.
func (p *postings) add(id, r uint32) {
	mask := len(p.slots) - 1
	i := p.home(id)
	for ; ; i = (i + 1) & mask {
		v := p.slots[i]
		if v == 0 {
			break
		}
		if p.keys[v-1] == id {
			p.lists[v-1] = append(p.lists[v-1], r)
			return
		}
	}
	if (len(p.keys)+1)*4 > len(p.slots)*3 {
		p.grow()
		p.add(id, r)
		return
	}
	p.keys = append(p.keys, id)
	p.lists = append(p.lists, []uint32{r})
	p.slots[i] = uint32(len(p.keys))
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
