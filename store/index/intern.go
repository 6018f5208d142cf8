package index

import (
	"hash/maphash"
	"strings"
	"unsafe"

	"github.com/castellan-authz/castellan/lang/term"
)

// Sizes of the interner's storage: values are kept in chunks of valChunk
// entries, their id strings in arenas of arenaSize bytes (a longer string
// gets an arena of its own).
const (
	valShift  = 12
	valChunk  = 1 << valShift
	arenaSize = 64 << 10
)

// valEnt is one interned value, without pointers: its id string is the n
// bytes at off in arena number arena, its type the type name number typ+1
// (0: a freed entry). pre holds the string's first 8 bytes (see prefix), so
// a lookup compares a short id without reading the arena.
type valEnt struct {
	arena uint32
	off   uint32
	n     uint32
	typ   uint32
	pre   uint64
}

// prefix returns the first 8 bytes of s (fewer: padded with zeros) as a
// number.
func prefix(s string) uint64 {
	if len(s) >= 8 {
		return *(*uint64)(unsafe.Pointer(unsafe.StringData(s)))
	}
	var p uint64
	for i := len(s) - 1; i >= 0; i-- {
		p = p<<8 | uint64(s[i])
	}
	return p
}

// interner assigns uint32 ids to values. Its lookup table is an
// open-addressing hash set (linear probing, load at most 3/4) of ids, each
// stored with 32 bits of its value's hash so that a probe compares strings
// only when the hashes agree; it costs 11 to 21 bytes per value. A value
// is stored without pointers, so the garbage collector does not scan the
// interner: its id string is copied into a shared arena of bytes and its
// type is the number of an interned type name.
//
// Values are counted: every record of a table and every change of the
// change log that holds an id is one reference (ref, unref). A value whose
// last reference goes is freed: removed from the lookup table, its entry
// cleared, and its id reused by a later value; so a store whose facts
// churn keeps only the values its live facts (and retained log) use. The
// bytes of freed strings are given back when they are more than the live
// ones: the arenas are then copied anew (see compactArenas).
//
// Readers that hold no lock read values through a valReader taken under
// the lock: writers append to the chunk and arena lists and never change
// an entry or a byte that a live id uses (compactArenas builds new ones).
type interner struct {
	seed    maphash.Seed
	ents    []*[valChunk]valEnt // id -> entry; id 0 is unused
	nvals   int                 // ids handed out, including 0
	refs    []uint32            // id -> references
	free    []uint32            // freed ids, to reuse
	slots   []uint64            // 0: empty, else hash<<32 | id
	types   []string            // type name number -> name
	typeIDs map[string]uint32
	arenas  [][]byte // each of fixed length, never changed but past fill of cur
	cur     int      // the arena being filled, -1: none
	fill    int      // bytes used in arena cur
	bytes   int      // bytes of live strings
	garbage int      // bytes of freed strings still in the arenas
}

func newInterner() interner {
	in := interner{
		seed:    maphash.MakeSeed(),
		nvals:   1,
		cur:     -1,
		refs:    make([]uint32, 1),
		slots:   make([]uint64, 16),
		typeIDs: make(map[string]uint32),
	}
	in.ents = append(in.ents, new([valChunk]valEnt))
	return in
}

// ent returns the entry of id.
func (in *interner) ent(id uint32) *valEnt { return &in.ents[id>>valShift][id&(valChunk-1)] }

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
	i := int(in.hashEnt(id)) & mask
	for uint32(in.slots[i]) != id {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; in.slots[j] != 0; j = (j + 1) & mask {
		home := int(in.slots[j]>>32) & mask
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
	e := in.ent(id)
	in.bytes -= int(e.n)
	in.garbage += int(e.n)
	*e = valEnt{}
	in.free = append(in.free, id)
	if in.garbage > arenaSize && in.garbage > in.bytes {
		in.compactArenas()
	}
}

// live returns the number of values interned and not freed.
func (in *interner) live() int { return in.nvals - 1 - len(in.free) }

// typeID returns the number of type name typ, or false.
func (in *interner) typeID(typ string) (uint32, bool) {
	if len(in.types) <= 8 {
		for i, t := range in.types {
			if t == typ {
				return uint32(i), true
			}
		}
		return 0, false
	}
	id, ok := in.typeIDs[typ]
	return id, ok
}

// hashOf hashes a value given its type name number; the lookup table keeps
// the upper 32 bits with each id and places it by the lower ones.
func (in *interner) hashOf(typ uint32, id string) uint32 {
	h := maphash.String(in.seed, id) ^ (uint64(typ)+1)*0x9E3779B97F4A7C15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}

func (in *interner) hashEnt(id uint32) uint32 {
	e := in.ent(id)
	return in.hashOf(e.typ-1, in.str(e))
}

// str returns the id string of an entry (pointing into an arena).
func (in *interner) str(e *valEnt) string {
	if e.n == 0 {
		return ""
	}
	return unsafe.String(&in.arenas[e.arena][e.off], e.n)
}

// lookup returns the id of v, if v has one.
func (in *interner) lookup(v term.Value) (uint32, bool) {
	typ, ok := in.typeID(v.Type)
	if !ok {
		return 0, false
	}
	id, _, found := in.find(typ, v.ID)
	return id, found
}

// find returns the id of the value (typ, s), or the hash to place it with.
func (in *interner) find(typ uint32, s string) (uint32, uint32, bool) {
	h := in.hashOf(typ, s)
	pre := prefix(s)
	mask := len(in.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		sl := in.slots[i]
		if sl == 0 {
			return 0, h, false
		}
		if uint32(sl>>32) != h {
			continue
		}
		id := uint32(sl)
		e := in.ent(id)
		if e.typ == typ+1 && int(e.n) == len(s) && e.pre == pre && (len(s) <= 8 || in.str(e) == s) {
			return id, h, true
		}
	}
}

// intern returns the id of v, assigning one.
func (in *interner) intern(v term.Value) uint32 {
	typ, ok := in.typeID(v.Type)
	if !ok {
		typ = uint32(len(in.types))
		name := strings.Clone(v.Type)
		in.types = append(in.types, name)
		in.typeIDs[name] = typ
	}
	id, h, found := in.find(typ, v.ID)
	if found {
		return id
	}
	if n := len(in.free); n > 0 {
		id = in.free[n-1]
		in.free = in.free[:n-1]
	} else {
		id = uint32(in.nvals)
		in.nvals++
		if int(id)>>valShift == len(in.ents) {
			in.ents = append(in.ents, new([valChunk]valEnt))
		}
		in.refs = append(in.refs, 0)
	}
	e := in.ent(id)
	a, off := in.store(v.ID)
	*e = valEnt{arena: a, off: off, n: uint32(len(v.ID)), typ: typ + 1, pre: prefix(v.ID)}
	in.bytes += len(v.ID)
	if (in.live()+1)*4 > len(in.slots)*3 {
		in.grow()
	}
	in.place(id, h)
	return id
}

// store copies s into an arena and returns where.
func (in *interner) store(s string) (arena, off uint32) {
	if len(s) == 0 {
		return 0, 0
	}
	if len(s) > arenaSize/4 { // an arena of its own
		in.arenas = append(in.arenas, []byte(s))
		return uint32(len(in.arenas) - 1), 0
	}
	if in.cur < 0 || in.fill+len(s) > arenaSize {
		in.arenas = append(in.arenas, make([]byte, arenaSize))
		in.cur, in.fill = len(in.arenas)-1, 0
	}
	off = uint32(in.fill)
	copy(in.arenas[in.cur][in.fill:], s)
	in.fill += len(s)
	return uint32(in.cur), off
}

// place puts id, of hash h, in the first empty slot of its probe sequence.
func (in *interner) place(id, h uint32) {
	mask := len(in.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		if in.slots[i] == 0 {
			in.slots[i] = uint64(h)<<32 | uint64(id)
			return
		}
	}
}

// grow doubles the slots (or more, to hold every live value at a load of
// at most 3/4) and places the ids again.
func (in *interner) grow() {
	size := 2 * len(in.slots)
	for (in.live()+1)*4 > size*3 {
		size *= 2
	}
	old := in.slots
	in.slots = make([]uint64, size)
	mask := size - 1
	for _, sl := range old {
		if sl == 0 {
			continue
		}
		for i := int(sl>>32) & mask; ; i = (i + 1) & mask {
			if in.slots[i] == 0 {
				in.slots[i] = sl
				break
			}
		}
	}
}

// compactArenas copies the live strings into new arenas and the entries
// into new chunks (readers holding the old ones keep reading them), so
// freed strings stop taking memory.
func (in *interner) compactArenas() {
	old := in.ents
	in.ents = make([]*[valChunk]valEnt, len(old))
	oldArenas := in.arenas
	in.arenas, in.cur, in.fill = nil, -1, 0
	for c := range old {
		nc := new([valChunk]valEnt)
		for i := range nc {
			e := old[c][i]
			if e.n > 0 {
				s := unsafe.String(&oldArenas[e.arena][e.off], e.n)
				e.arena, e.off = in.store(s)
			}
			nc[i] = e
		}
		in.ents[c] = nc
	}
	in.garbage = 0
}

// value returns the value of id.
func (in *interner) value(id uint32) term.Value {
	e := in.ent(id)
	if e.typ == 0 {
		return term.Value{}
	}
	return term.Value{Type: in.types[e.typ-1], ID: in.str(e)}
}

// valReader reads values without the index's lock: it holds the chunk,
// arena and type lists as they were when it was taken under the lock,
// and every id used by a record visible then reads the same through it.
type valReader struct {
	ents   []*[valChunk]valEnt
	arenas [][]byte
	types  []string
}

func (in *interner) reader() valReader {
	return valReader{ents: in.ents, arenas: in.arenas, types: in.types}
}

func (vr *valReader) value(id uint32) term.Value {
	e := &vr.ents[id>>valShift][id&(valChunk-1)]
	if e.typ == 0 {
		return term.Value{}
	}
	v := term.Value{Type: vr.types[e.typ-1]}
	if e.n > 0 {
		v.ID = unsafe.String(&vr.arenas[e.arena][e.off], e.n)
	}
	return v
}
