package evaluator

import (
	"sync/atomic"
	"unsafe"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// Matching on ids. Over an IDSource the solver's handles (see hval) are
// the source's ids: a predicate becomes a relation number once per query
// (rels), a value of the question an id once per query (memo), and a
// constant of the program once per source generation, shared by every
// query over that snapshot (Evaluator.constIDs); the facts the source
// yields come back as ids, which are their handles with their types'
// numbers beside them: no value is rebuilt or hashed per fact. The one
// wildcard of the id level is 0.

// startIDs prepares the id state of a query over src.
func (s *solver) startIDs(src Source) {
	s.ids, _ = src.(IDSource)
	s.holder, _ = src.(readHolder)
	if s.idEpoch++; s.idEpoch == 0 {
		s.memo, s.idEpoch = [memoSize]memoEnt{}, 1
		clear(s.rels)
		clear(s.cH)
		s.tmemo = [1 << tmemoBits]tmemoEnt{}
	}
	if len(s.cH) < len(s.e.cvals) {
		s.cH = make([]constEnt, len(s.e.cvals))
	}
	s.xtypes, s.locals = s.xtypes[:0], s.locals[:0]
	if len(s.xtypeNum) > 0 {
		clear(s.xtypeNum)
	}
	if len(s.localIdx) > 0 {
		clear(s.localIdx)
	}
	s.consts = nil
	if s.ids != nil {
		if gen := s.ids.Generation(); gen != 0 {
			s.consts = s.e.constsFor(gen)
		}
	}
}

// matchFacts appends to tmp the handles of the arguments of the facts of
// p that match pat (freeH matches any value), as collect does. Over an
// IDSource it matches on ids: a bound value the source lacks matches no
// fact.
func (s *solver) matchFacts(p *predInfo, pat []hval) {
	if s.ids == nil {
		vals := s.patVals[:0]
		for _, h := range pat {
			var v term.Value
			if h != freeH {
				v = s.value(h)
			}
			vals = append(vals, v)
		}
		s.patVals = vals
		s.src.Match(p.name, vals, s.collectFn)
		return
	}
	rel := s.relation(p)
	if rel < 0 {
		return
	}
	for _, h := range pat {
		if h != freeH && h.kind() != hStore {
			return // no fact holds it
		}
	}
	want := s.want[:0]
	for _, h := range pat {
		want = append(want, h.id())
	}
	s.want = want // kept, so that the next call does not allocate
	s.ids.MatchIDs(rel, want, s.collectIDsFn)
}

// relEnt is the relation number of a predicate in the query of epoch.
type relEnt struct {
	rel   int32
	epoch uint32
}

// relation returns the source's relation of p, -1 when it has none.
func (s *solver) relation(p *predInfo) int {
	if p.id >= len(s.rels) {
		s.rels = append(s.rels, make([]relEnt, p.id+1-len(s.rels))...)
	}
	r := &s.rels[p.id]
	if r.epoch != s.idEpoch {
		var rel int
		if s.consts != nil {
			rel = s.consts.relation(s.ids, p)
		} else {
			rel = s.ids.Relation(p.name, p.arity)
		}
		*r = relEnt{rel: int32(rel), epoch: s.idEpoch}
	}
	return int(r.rel)
}

// memoSize is the number of values whose ids a solver remembers in one
// query (the values of its questions made handles, see handle), in a
// direct-mapped cache keyed by where the value's id string is, checked by
// comparing the values: a batch's checks often share an actor. A value
// the memo forgot is looked up in the source again, by its strings.
const (
	memoBits = 8
	memoSize = 1 << memoBits
)

// memoEnt is a value and its id (0: the source has no fact with it) in
// the query of epoch.
type memoEnt struct {
	v     term.Value
	id    uint32
	epoch uint32
}

// strHash hashes where v's id string is, and its length.
func strHash(v term.Value) uint64 {
	return (uint64(uintptr(unsafe.Pointer(unsafe.StringData(v.ID)))) ^ uint64(len(v.ID))) * 0x9E3779B97F4A7C15
}

// idOf returns the id of v in the source, or false when no fact holds v.
func (s *solver) idOf(v term.Value) (uint32, bool) {
	h := strHash(v)
	e := &s.memo[h>>(64-memoBits)]
	if e.epoch == s.idEpoch && e.v == v {
		return e.id, e.id != 0
	}
	var id uint32
	var ok bool
	if k := s.e.consts.find(v, h); k >= 0 && s.consts != nil {
		id, ok = s.consts.get(s.ids, int(s.e.consts.num[k]), v)
	} else {
		id, ok = s.ids.Lookup(v)
	}
	if !ok {
		id = 0
	}
	*e = memoEnt{v: v, id: id, epoch: s.idEpoch}
	return id, ok
}

// collectIDs is the MatchIDs callback: it appends the fact's handles to
// tmp, unless one of its values has no type (as collect).
func (s *solver) collectIDs(ids []uint32) bool {
	start := len(s.tmp)
	for _, id := range ids {
		t := s.ids.Value(id).Type
		if t == "" {
			s.tmp = s.tmp[:start]
			return true
		}
		s.tmp = append(s.tmp, hval(id)|hval(s.tnum(t))<<hTypeShift)
	}
	return true
}

// constTable numbers the constants of a program, each spelling (value and
// where its string is) once, in an open-addressing table keyed by strHash,
// so that a solver finds a constant's number without hashing its string.
type constTable struct {
	vals  []term.Value
	num   []int32 // by spelling: the constant's number in Evaluator.cvals
	index []int32 // -1: empty, else a number in vals
	shift uint
}

func newConstTable(vals []term.Value) constTable {
	if len(vals) == 0 {
		return constTable{}
	}
	size, bits := 8, uint(3)
	for size < 2*len(vals) {
		size, bits = size*2, bits+1
	}
	t := constTable{index: make([]int32, size), shift: 64 - bits}
	for i := range t.index {
		t.index[i] = -1
	}
	for _, v := range vals {
		if t.find(v, strHash(v)) >= 0 {
			continue
		}
		i := int(strHash(v) >> t.shift)
		for t.index[i] >= 0 {
			i = (i + 1) & (size - 1)
		}
		t.index[i] = int32(len(t.vals))
		t.vals = append(t.vals, v)
	}
	return t
}

// find returns the number of constant v (whose strHash is h), -1 when v is
// not a constant spelled there.
func (t *constTable) find(v term.Value, h uint64) int {
	if len(t.index) == 0 {
		return -1
	}
	mask := len(t.index) - 1
	for i := int(h >> t.shift); ; i = (i + 1) & mask {
		k := t.index[i]
		if k < 0 {
			return -1
		}
		c := &t.vals[k]
		if unsafe.StringData(c.ID) == unsafe.StringData(v.ID) && *c == v {
			return int(k)
		}
	}
}

// constIDs holds the ids of a program's constants and the relations of its
// predicates in the sources of one generation, resolved on first use by
// any query and shared by all.
type constIDs struct {
	gen  uint64
	ids  []atomic.Uint32 // by constant number: 0 not resolved yet, absent, else the id
	rels []atomic.Int32  // by predInfo.id: 0 not resolved yet, else the relation + 2
	selFields
}

// relation returns the relation of p in src.
func (c *constIDs) relation(src IDSource, p *predInfo) int {
	if p.id >= len(c.rels) {
		return src.Relation(p.name, p.arity)
	}
	if r := c.rels[p.id].Load(); r != 0 {
		return int(r) - 2
	}
	rel := src.Relation(p.name, p.arity)
	c.rels[p.id].Store(int32(rel + 2))
	return rel
}

// absent marks a constant no fact of the source holds.
const absent = ^uint32(0)

// get returns the id of constant k (value v) in src.
func (c *constIDs) get(src IDSource, k int, v term.Value) (uint32, bool) {
	switch id := c.ids[k].Load(); id {
	case 0:
	case absent:
		return 0, false
	default:
		return id, true
	}
	id, ok := src.Lookup(v)
	if !ok {
		c.ids[k].Store(absent)
		return 0, false
	}
	c.ids[k].Store(id)
	return id, true
}

// constsFor returns the constants' ids for generation gen. The evaluator
// keeps those of two generations (the latest snapshot's, and one more: a
// past revision read meanwhile, or the next snapshot); a third replaces
// the one of the smaller generation.
func (e *Evaluator) constsFor(gen uint64) *constIDs {
	a, b := e.constIDs[0].Load(), e.constIDs[1].Load()
	switch {
	case a != nil && a.gen == gen:
		return a
	case b != nil && b.gen == gen:
		return b
	}
	c := &constIDs{gen: gen, ids: make([]atomic.Uint32, len(e.cvals)), rels: make([]atomic.Int32, len(e.preds))}
	if a == nil || (b != nil && a.gen < b.gen) {
		e.constIDs[0].Store(c)
	} else {
		e.constIDs[1].Store(c)
	}
	return c
}

// programConsts returns the constants of the compiled rules: their heads'
// and literals' arguments, lists included.
func programConsts(preds map[lang.Pred]*predInfo) []term.Value {
	var out []term.Value
	walkRules(preds, nil, nil, func(o *operand) {
		if o.kind == opConst {
			out = append(out, o.val)
		}
	})
	return out
}

// walkRules calls onRule with each compiled rule of preds, onLit with each
// of its literals (those of alternatives too) and onOp with each operand
// of its head and literals (the elements of lists too). Any of the three
// may be nil.
func walkRules(preds map[lang.Pred]*predInfo, onRule func(*crule), onLit func(*lit), onOp func(*operand)) {
	var ops func([]operand)
	ops = func(os []operand) {
		for i := range os {
			if onOp != nil {
				onOp(&os[i])
			}
			if os[i].kind == opList {
				ops(os[i].list)
			}
		}
	}
	var lits func([]*lit)
	lits = func(ls []*lit) {
		for _, l := range ls {
			if onLit != nil {
				onLit(l)
			}
			ops(l.args)
			for _, alt := range l.alts {
				lits(alt)
			}
		}
	}
	for _, p := range preds {
		for _, r := range p.rules {
			if onRule != nil {
				onRule(r)
			}
			ops(r.head)
			lits(r.lits)
		}
	}
}

// matchValues calls yield with the values of the facts of pred (arity
// len(pat)) that match pat (a zero Value matches any value), as
// src.Match does, but on ids when src is an IDSource: the predicate and
// each bound value are resolved once per call, the facts matched on ids,
// and only the facts yielded are turned into values. For the callers
// outside the solver's tables (explanations, residuals); the slice passed
// to yield is valid during the call only.
func matchValues(src Source, pred string, pat []term.Value, yield func([]term.Value) bool) {
	ids, ok := src.(IDSource)
	if !ok {
		src.Match(pred, pat, yield)
		return
	}
	rel := ids.Relation(pred, len(pat))
	if rel < 0 {
		return
	}
	want := make([]uint32, len(pat))
	for i, v := range pat {
		if v.IsZero() {
			continue
		}
		id, ok := ids.Lookup(v)
		if !ok {
			return // no fact holds v
		}
		want[i] = id
	}
	vals := make([]term.Value, len(pat))
	ids.MatchIDs(rel, want, func(fact []uint32) bool {
		for i, id := range fact {
			vals[i] = ids.Value(id)
		}
		return yield(vals)
	})
}

// readHolder is a source whose reads can run under one hold of its lock
// (store/index's snapshots): HoldReads takes the lock and returns a
// heldReads view of the source that reads without taking it (reusing
// reuse, a view it returned before and that was released, when it can).
type readHolder interface {
	IDSource
	HoldReads(reuse any) any
}

// heldReads is a view of HoldReads: the source itself, read under the
// lock it holds until ReleaseReads (after which it must not be read);
// PauseReads lets waiting writers take the lock in between.
type heldReads interface {
	IDSource
	ReleaseReads()
	PauseReads()
}

// holdReads makes the solver read its source under one hold of the
// source's lock until releaseReads, when the source can (see
// readHolder): a check asks a source half a dozen questions, and taking
// its lock for each was the largest single cost of a batch of checks
// (the lock's reader count, written by every read, passed between the
// cores). Only a check that runs to its end without calling out or
// waiting may hold its reads (not a list walk, which pauses between
// pages, nor a query that yields rows), and nothing else may read the
// source meanwhile: no other solver, no explanation; tick pauses the hold
// now and then so that a long check does not hold writers up.
func (s *solver) holdReads() {
	if s.holder == nil || s.held != nil {
		return
	}
	v := s.holder.HoldReads(s.heldView)
	h, ok := v.(heldReads)
	if !ok {
		if r, ok := v.(interface{ ReleaseReads() }); ok {
			r.ReleaseReads()
		}
		return
	}
	s.heldView, s.held = v, h
	s.src, s.ids = h, h
}

// releaseReads ends holdReads: the solver reads its source as before.
func (s *solver) releaseReads() {
	if s.held == nil {
		return
	}
	s.held.ReleaseReads()
	s.held = nil
	s.src, s.ids = s.holder, s.holder
}
