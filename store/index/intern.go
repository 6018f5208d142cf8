package index

import (
	"hash/maphash"

	"github.com/castellan-authz/castellan/lang/term"
)

// interner assigns uint32 ids to values. Its lookup table is an
// open-addressing hash set of ids (linear probing, load at most 3/4) keyed
// by the values in vals, so it costs 4 to 11 bytes per value instead of a
// Go map's 40 to 90 for a term.Value key. The type strings of the values
// are interned too (there are few types, and a decoded request holds one
// copy of a type's name per value).
//
// Values are counted: every record of a table and every change of the
// change log that holds an id is one reference (ref, unref). A value whose
// last reference goes is freed: removed from the lookup table, its entry
// of vals cleared, and its id reused by a later value; so a store whose
// facts churn keeps only the values its live facts (and retained log) use.
type interner struct {
	seed  maphash.Seed
	vals  []term.Value // id -> value; vals[0] is unused, a freed id's is zero
	refs  []uint32     // id -> references
	free  []uint32     // freed ids, to reuse
	slots []uint32     // 0: empty, else an id
	types map[string]string
}

func newInterner() interner {
	return interner{
		seed:  maphash.MakeSeed(),
		vals:  make([]term.Value, 1),
		refs:  make([]uint32, 1),
		slots: make([]uint32, 16),
		types: make(map[string]string),
	}
}

// ref adds a reference to id.
func (in *interner) ref(id uint32) { in.refs[id]++ }

// unref drops a reference to id, freeing its value with the last one.
func (in *interner) unref(id uint32) {
	in.refs[id]--
	if in.refs[id] == 0 {
		in.release(id)
	}
}

// release removes id's value from the lookup table (shifting the entries
// after it back, so that no probe sequence is broken), clears it, and
// keeps id for reuse.
func (in *interner) release(id uint32) {
	mask := len(in.slots) - 1
	i := int(in.hash(in.vals[id])) & mask
	for in.slots[i] != id {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; in.slots[j] != 0; j = (j + 1) & mask {
		home := int(in.hash(in.vals[in.slots[j]])) & mask
		// The entry at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		var stays bool
		if i <= j {
			stays = i < home && home <= j
		} else {
			stays = i < home || home <= j
		}
		if !stays {
			in.slots[i] = in.slots[j]
			i = j
		}
	}
	in.slots[i] = 0
	in.vals[id] = term.Value{}
	in.free = append(in.free, id)
}

// live returns the number of values interned and not freed.
func (in *interner) live() int { return len(in.vals) - 1 - len(in.free) }

func (in *interner) hash(v term.Value) uint64 {
	return maphash.String(in.seed, v.ID) ^ maphash.String(in.seed, v.Type)*0x9E3779B97F4A7C15
}

// lookup returns the id of v, if v has one.
func (in *interner) lookup(v term.Value) (uint32, bool) {
	mask := len(in.slots) - 1
	for i := int(in.hash(v)) & mask; ; i = (i + 1) & mask {
		id := in.slots[i]
		if id == 0 {
			return 0, false
		}
		if in.vals[id] == v {
			return id, true
		}
	}
}

// intern returns the id of v, assigning one.
func (in *interner) intern(v term.Value) uint32 {
	if id, ok := in.lookup(v); ok {
		return id
	}
	if (in.live()+1)*4 > len(in.slots)*3 {
		in.grow()
	}
	if t, ok := in.types[v.Type]; ok {
		v.Type = t
	} else {
		in.types[v.Type] = v.Type
	}
	var id uint32
	if n := len(in.free); n > 0 {
		id = in.free[n-1]
		in.free = in.free[:n-1]
		in.vals[id] = v
	} else {
		id = uint32(len(in.vals))
		in.vals = append(in.vals, v)
		in.refs = append(in.refs, 0)
	}
	in.place(id)
	return id
}

// place puts id in the first empty slot of its probe sequence.
func (in *interner) place(id uint32) {
	mask := len(in.slots) - 1
	for i := int(in.hash(in.vals[id])) & mask; ; i = (i + 1) & mask {
		if in.slots[i] == 0 {
			in.slots[i] = id
			return
		}
	}
}

// grow doubles the slots.
func (in *interner) grow() {
	in.slots = make([]uint32, 2*len(in.slots))
	for id := 1; id < len(in.vals); id++ {
		if !in.vals[id].IsZero() {
			in.place(uint32(id))
		}
	}
}
