package index

import "math"

// liveSet finds the live record of a table by its argument ids. It is an
// open-addressing hash set of record numbers (linear probing) whose keys
// are the records' ids in table.args, so it costs about 11 to 16 bytes
// per live fact instead of a map's 30 or more. Each slot holds its
// record's number and the upper 32 bits of the record's hash in one word,
// so a probe reads one cache line of slots (seldom two) and a record's ids
// (a cache miss, as records are far apart) only when those bits agree: a
// fact that is not stored, the most common question of a check, costs
// one cache miss.
type liveSet struct {
	slots []uint64 // 0: empty, tombstone: deleted, else tagOf(hash) | record number + 1
	n     int      // live entries
	used  int      // live entries and tombstones
}

// tagOf returns the bits of hash h kept in a liveSet slot.
func tagOf(h uint64) uint64 { return h &^ math.MaxUint32 }

// recOf returns the record number of a live slot.
func recOf(v uint64) uint32 { return uint32(v) - 1 }

const tombstone = math.MaxUint64

// hashIDs mixes argument ids into a 64-bit hash.
func hashIDs(ids []uint32) uint64 {
	h := uint64(0x9E3779B97F4A7C15)
	for _, id := range ids {
		h = (h ^ uint64(id)) * 0xff51afd7ed558ccd
		h ^= h >> 29
	}
	h ^= h >> 32
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>29
}

// sameIDs reports whether record r of t has argument ids ids.
func (t *table) sameIDs(r uint32, ids []uint32) bool {
	rec := t.ids(r)
	for i, id := range ids {
		if rec[i] != id {
			return false
		}
	}
	return true
}

// find returns the live record with argument ids ids.
func (t *table) find(ids []uint32) (uint32, bool) {
	if i, ok := t.slot(ids, hashIDs(ids)); ok {
		return recOf(t.live.slots[i]), true
	}
	return 0, false
}

// slot returns the index of the slot holding the live record with ids,
// whose hashIDs is h.
func (t *table) slot(ids []uint32, h uint64) (int, bool) {
	s := &t.live
	if s.n == 0 {
		return 0, false
	}
	tag := tagOf(h)
	for i := reduce(uint32(h>>32), len(s.slots)); ; i = next(i, len(s.slots)) {
		switch v := s.slots[i]; {
		case v == 0:
			return 0, false
		case v&^math.MaxUint32 == tag && v != tombstone && t.sameIDs(recOf(v), ids):
			return i, true
		}
	}
}

// setLive records r, the last record of t, live and whose ids (of
// hashIDs h) are not in the set, as live.
func (t *table) setLive(h uint64, r uint32) {
	s := &t.live
	if (s.used+1)*4 > len(s.slots)*3 { // keep the load at most 3/4
		// Live entries fill 3/4 of the slots, less the tombstones: twice
		// as many slots as live entries (a load of 1/2).
		s.resize(max(12, 3*(s.n+1)/2))
	}
	for i := reduce(uint32(h>>32), len(s.slots)); ; i = next(i, len(s.slots)) {
		switch s.slots[i] {
		case 0:
			s.used++
			fallthrough
		case tombstone:
			s.slots[i] = tagOf(h) | uint64(r+1)
			s.n++
			return
		}
	}
}

// deleteLive removes the live record with ids from the set.
func (t *table) deleteLive(ids []uint32) {
	if i, ok := t.slot(ids, hashIDs(ids)); ok {
		t.live.slots[i] = tombstone
		t.live.n--
	}
}

// resize moves the live entries into a new table of at least want/0.75
// slots (see reduce), leaving the tombstones out. A slot's home is a
// function of the hash bits it holds, which grow in the order of the
// slots: it reads no record, and writes the new slots in order.
func (s *liveSet) resize(want int) {
	size := max(16, (want*4+2)/3)
	old := s.slots
	s.slots = make([]uint64, size)
	s.used = s.n
	for _, v := range old {
		if v == 0 || v == tombstone {
			continue
		}
		for i := reduce(uint32(v>>32), size); ; i = next(i, size) {
			if s.slots[i] == 0 {
				s.slots[i] = v
				break
			}
		}
	}
}

// rehash rebuilds the set from the records that are not dead (after a
// compaction renumbered them), with at least want/0.75 slots.
func (t *table) rehash(want int) {
	size := max(16, (want*4+2)/3)
	t.live = liveSet{slots: make([]uint64, size)}
	for r := range t.n {
		if t.isDead(r) {
			continue
		}
		h := hashIDs(t.ids(r))
		for i := reduce(uint32(h>>32), size); ; i = next(i, size) {
			if t.live.slots[i] == 0 {
				t.live.slots[i] = tagOf(h) | uint64(r+1)
				break
			}
		}
		t.live.n++
		t.live.used++
	}
}
