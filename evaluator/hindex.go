package evaluator

// hindex maps the hash of a table key or of an answer to the first table
// or answer of its bucket (solver.tindex, solver.aindex): an
// open-addressing table of hashes (linear probing, at most half full)
// whose slots are stamped with the query they were set in, so that a
// query starts with an empty index without clearing it. The hashes are
// mixed already (solver.hash), so their low bits choose the slot.
type hindex struct {
	slots []hslot
	n     int    // slots set in this query
	query uint32 // the stamp of this query's slots, never 0
}

type hslot struct {
	h     uint64
	v     int32
	query uint32
}

// reset empties the index for a new query; an index that held more than
// max entries is dropped, so that one huge query does not pin its memory.
func (x *hindex) reset(max int) {
	if x.n > max {
		*x = hindex{}
	}
	x.n = 0
	if x.query++; x.query == 0 { // the stamps wrapped: clear them once
		clear(x.slots)
		x.query = 1
	}
}

// get returns the value of h, false when it has none.
func (x *hindex) get(h uint64) (int32, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := len(x.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		sl := &x.slots[i]
		if sl.query != x.query {
			return 0, false
		}
		if sl.h == h {
			return sl.v, true
		}
	}
}

// set gives h the value v.
func (x *hindex) set(h uint64, v int32) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	mask := len(x.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		sl := &x.slots[i]
		if sl.query != x.query {
			*sl = hslot{h: h, v: v, query: x.query}
			x.n++
			return
		}
		if sl.h == h {
			sl.v = v
			return
		}
	}
}

// grow doubles the slots (64 at first), keeping this query's entries.
func (x *hindex) grow() {
	old := x.slots
	size := 2 * len(old)
	if size == 0 {
		size = 64
	}
	x.slots = make([]hslot, size)
	if x.query == 0 {
		x.query = 1
	}
	x.n = 0
	for _, sl := range old {
		if sl.query == x.query {
			x.set(sl.h, sl.v)
		}
	}
}
