package index

// MatchIDsAfter is MatchIDs from the fact after on: it yields the argument
// ids of the facts of relation rel matching ids (0: any) that MatchIDs
// yields after the fact whose argument ids are after, in the same order
// (record order, the order the facts were stored in), without reading
// those before it (one probe of the live set and a binary search of a
// posting list). It reports false, having yielded nothing, when it cannot
// find where to start: after is not a fact the index holds live (one
// removed since the snapshot's revision, say); the caller then reads from
// the start. A list walk resumed from a page token uses it (evaluator,
// seek.go).
func (s *Snapshot) MatchIDsAfter(rel int, ids, after []uint32, yield func(ids []uint32) bool) bool {
	x := s.x
	s.rlock()
	if rel < 0 || rel >= len(x.byID) || x.byID[rel].arity != len(ids) || len(after) != len(ids) {
		s.runlock()
		return false
	}
	t := x.byID[rel]
	r, ok := t.find(after)
	if !ok || r >= t.limit(s.rev) || !s.inWindow(t, r) {
		s.runlock()
		return false
	}
	best, bestSlot, _, _, ok := shortest(t, ids)
	if !ok {
		s.runlock()
		return true // nothing matches
	}
	s.walkList(t, nil, ids, best, bestSlot, int64(r), yield, nil)
	return true
}
