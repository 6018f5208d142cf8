package index

import (
	"hash/maphash"

	"github.com/castellan-authz/castellan/lang/term"
)

// interner assigns uint32 ids to values. Its lookup table is an
// open-addressing hash set of ids (linear probing, load at most 3/4) keyed
// by the values in vals, so it costs 4 to 11 bytes per value instead of a
// Go map's 40 to 90 for a term.Value key. Values are never removed. The
// type strings of the values are interned too (there are few types, and a
// decoded request holds one copy of a type's name per value).
type interner struct {
	seed  maphash.Seed
	vals  []term.Value // id -> value; vals[0] is unused
	slots []uint32     // 0: empty, else an id
	types map[string]string
}

func newInterner() interner {
	return interner{
		seed:  maphash.MakeSeed(),
		vals:  make([]term.Value, 1),
		slots: make([]uint32, 16),
		types: make(map[string]string),
	}
}

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
	if len(in.vals)*4 > len(in.slots)*3 { // len(vals) is the count + 1
		in.grow()
	}
	if t, ok := in.types[v.Type]; ok {
		v.Type = t
	} else {
		in.types[v.Type] = v.Type
	}
	id := uint32(len(in.vals))
	in.vals = append(in.vals, v)
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
		in.place(uint32(id))
	}
}
