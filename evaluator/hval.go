package evaluator

import (
	"sync"
	"unsafe"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// hval is the solver's value: one word, so that frames, the trail, table
// keys and answers hold and copy integers, and unification and hashing
// compare integers. A handle holds the value's type number (see
// typeNums) beside an id of one of four kinds:
//
//   - hStore: the value's id in the query's IDSource (for a value of a
//     request's context facts the store lacks, the Layer's local id);
//   - hConst: a constant of the program the source lacks (or any constant,
//     when the source has no ids): the id is its number in
//     Evaluator.cvals;
//   - hLocal: any other value the source lacks (a value of the question,
//     @current_unix_time, a fact's value in a source without ids): the id
//     is its place in solver.locals, this query only;
//   - hWild: a wildcard of the type (id 0), or an alias marker, a
//     wildcard equal to argument j of the same answer (id j+1).
//
// Each value has exactly one handle within a query (a value the source
// holds always takes its id there, a constant the source lacks its
// number), so that two handles are equal exactly when their values are,
// and no value's bytes can make it a wildcard: wildcards are a kind of
// their own. Strings come back only at the edges (answers, explanations,
// comparisons), by value, which reads a slice.
type hval uint64

const (
	hStore hval = 0 << 32
	hConst hval = 1 << 32
	hLocal hval = 2 << 32
	hWild  hval = 3 << 32
	hKind  hval = 3 << 32

	hTypeShift = 34
)

func (h hval) kind() hval   { return h & hKind }
func (h hval) id() uint32   { return uint32(h) }
func (h hval) typ() uint32  { return uint32(h >> hTypeShift) }
func (h hval) isWild() bool { return h&hKind == hWild }

// plain returns wildcard h without its alias: the wildcard of its type.
func (h hval) plain() hval { return h &^ 0xffffffff }

// alias returns j when h is an alias marker for argument j.
func (h hval) alias() (int, bool) {
	if h&hKind == hWild && uint32(h) != 0 {
		return int(uint32(h)) - 1, true
	}
	return 0, false
}

// wildH returns the wildcard of type number t.
func wildH(t uint32) hval { return hWild | hval(t)<<hTypeShift }

// aliasH returns the alias marker of type number t for argument j.
func aliasH(t uint32, j int) hval { return wildH(t) | hval(j+1) }

// typeStringNum is the number of term.TypeString in every program's
// numbering (see newTypeNums).
const typeStringNum = 1

// freeH is the free position of a pattern given to matchFacts (no value
// has it: store ids are never 0).
const freeH hval = 0

// typeNums numbers the type names of a program, so that a handle carries
// its type and type constraints are checked on numbers: 0 is "" (no
// constraint), 1 String (typeStringNum), then Actor, Resource, the other
// built-in types and every name the program spells. matches[vt*n+c] is typeSys.matches(vt, c). A type
// name the program does not spell gets a number of one query (past n, see
// solver.tnum): it matches only itself and "".
type typeNums struct {
	names   []string
	num     map[string]uint32
	matches []bool
}

func newTypeNums(ts *typeSys, preds map[lang.Pred]*predInfo, consts []term.Value) typeNums {
	tn := typeNums{num: map[string]uint32{}}
	add := func(t string) {
		if _, ok := tn.num[t]; !ok {
			tn.num[t] = uint32(len(tn.names))
			tn.names = append(tn.names, t)
		}
	}
	for _, t := range []string{"", term.TypeString, lang.AbstractActor, lang.AbstractResource, term.TypeInteger, term.TypeBoolean} {
		add(t)
	}
	for t := range ts.nodes {
		add(t)
	}
	for _, v := range consts {
		add(v.Type)
	}
	walkRules(preds, func(r *crule) {
		for _, t := range r.varTypes {
			add(t)
		}
	}, func(l *lit) {
		if l.kind == litMatches {
			add(l.typ)
		}
	}, nil)
	n := len(tn.names)
	tn.matches = make([]bool, n*n)
	for vt, a := range tn.names {
		for c, b := range tn.names {
			tn.matches[vt*n+c] = ts.matches(a, b)
		}
	}
	return tn
}

// numberTypes sets the type numbers of the rules' variables and `matches`
// literals, and the constant numbers of their constant operands.
func (e *Evaluator) numberTypes() {
	walkRules(e.preds, func(r *crule) {
		r.varTnums = make([]uint32, len(r.varTypes))
		for i, t := range r.varTypes {
			r.varTnums[i] = e.tnums.num[t]
		}
	}, func(l *lit) {
		if l.kind == litMatches {
			l.tnum = e.tnums.num[l.typ]
		}
	}, func(o *operand) {
		if o.kind == opConst {
			if k, ok := e.cnum[o.val]; ok {
				o.cnum = k + 1
			}
		}
	})
}

// numberConsts numbers the spellings of the program's constants by their
// distinct values (constTable.num), lists the constants that select rules
// (selectors, see rulesFor) and the constants' type numbers.
func (e *Evaluator) numberConsts() {
	e.consts.num = make([]int32, len(e.consts.vals))
	for k, v := range e.consts.vals {
		e.consts.num[k] = e.cnum[v]
	}
	seen := map[int32]bool{}
	for _, p := range e.preds {
		for _, nr := range p.byNum {
			for _, r := range nr {
				if !seen[r.num] {
					seen[r.num] = true
					e.selectors = append(e.selectors, r.num)
				}
			}
		}
	}
	e.ctypes = make([]uint32, len(e.cvals))
	for k, v := range e.cvals {
		e.ctypes[k] = e.tnums.num[v.Type]
	}
}

// tmemoBits sizes the solver's memo of type numbers by where the names'
// strings are.
const tmemoBits = 7

type tmemoEnt struct {
	name  string
	num   uint32
	epoch uint32 // for a number of one query (past the program's)
}

// tnum returns the number of type name t: the program's, or one of this
// query. The number of a name is found by where its string is (the
// source's type names are shared by its values) before hashing it.
func (s *solver) tnum(t string) uint32 {
	if t == "" {
		return 0
	}
	h := (uint64(uintptr(unsafe.Pointer(unsafe.StringData(t)))) ^ uint64(len(t))) * 0x9E3779B97F4A7C15
	e := &s.tmemo[h>>(64-tmemoBits)]
	fixed := uint32(len(s.e.tnums.names))
	if sameString(e.name, t) && (e.num < fixed || e.epoch == s.idEpoch) {
		return e.num
	}
	n, ok := s.e.tnums.num[t]
	if !ok {
		if n, ok = s.xtypeNum[t]; !ok {
			n = fixed + uint32(len(s.xtypes))
			s.xtypes = append(s.xtypes, t)
			if s.xtypeNum == nil {
				s.xtypeNum = map[string]uint32{}
			}
			s.xtypeNum[t] = n
		}
	}
	*e = tmemoEnt{name: t, num: n, epoch: s.idEpoch}
	return n
}

// typeName returns the name of type number n.
func (s *solver) typeName(n uint32) string {
	if names := s.e.tnums.names; n < uint32(len(names)) {
		return names[n]
	}
	return s.xtypes[n-uint32(len(s.e.tnums.names))]
}

// typeMatches reports whether a value of type vt satisfies constraint c
// (typeSys.matches, on numbers).
func (s *solver) typeMatches(vt, c uint32) bool {
	if c == 0 || vt == c {
		return true
	}
	n := uint32(len(s.e.tnums.names))
	if vt >= n || c >= n {
		return false
	}
	return s.e.tnums.matches[vt*n+c]
}

// typeIntersect is typeSys.intersect on numbers.
func (s *solver) typeIntersect(a, b uint32) (uint32, bool) {
	switch {
	case a == b || b == 0:
		return a, true
	case a == 0:
		return b, true
	case s.typeMatches(a, b):
		return a, true
	case s.typeMatches(b, a):
		return b, true
	}
	return 0, false
}

// handle returns the handle of v in this query.
func (s *solver) handle(v term.Value) hval {
	if isWild(v) {
		t := s.tnum(v.Type)
		if j, ok := aliasOf(v); ok {
			return aliasH(t, j)
		}
		return wildH(t)
	}
	if s.ids != nil {
		if id, ok := s.idOf(v); ok {
			// The source's spelling of the type, whose number the memo
			// holds (the question's is a new string each time).
			return hval(id) | hval(s.tnum(s.ids.Value(id).Type))<<hTypeShift
		}
	}
	t := hval(s.tnum(v.Type)) << hTypeShift
	if k, ok := s.e.cnum[v]; ok {
		return hConst | hval(k) | t
	}
	return hLocal | hval(s.localOf(v)) | t
}

// localScan is the number of local values found by comparing them, before
// a map is kept (a check has a few: the values of its question the source
// lacks; a source without ids, all).
const localScan = 8

// localOf returns the local id of v, a value the source lacks and not a
// constant of the program.
func (s *solver) localOf(v term.Value) uint32 {
	if len(s.locals) <= localScan {
		for i := range s.locals {
			if s.locals[i] == v {
				return uint32(i)
			}
		}
	} else if n, ok := s.localIdx[v]; ok {
		return n
	}
	n := uint32(len(s.locals))
	s.locals = append(s.locals, v)
	switch {
	case len(s.locals) == localScan+1:
		if s.localIdx == nil {
			s.localIdx = make(map[term.Value]uint32)
		}
		for i, l := range s.locals {
			s.localIdx[l] = uint32(i)
		}
	case len(s.locals) > localScan+1:
		s.localIdx[v] = n
	}
	return n
}

// value returns the value of handle h (a wildcard as the marked Value of
// its type, see wild).
func (s *solver) value(h hval) term.Value {
	switch h.kind() {
	case hStore:
		return s.ids.Value(h.id())
	case hConst:
		return s.e.cvals[h.id()]
	case hLocal:
		return s.locals[h.id()]
	}
	t := s.typeName(h.typ())
	if j, ok := h.alias(); ok {
		return term.Value{Type: t, ID: aliasIDs[j]}
	}
	return wild(t)
}

// values returns the values of hs.
func (s *solver) values(hs []hval) []term.Value {
	out := make([]term.Value, len(hs))
	for i, h := range hs {
		out[i] = s.value(h)
	}
	return out
}

// handles appends the handles of vs to dst.
func (s *solver) handles(dst []hval, vs []term.Value) []hval {
	for _, v := range vs {
		dst = append(dst, s.handle(v))
	}
	return dst
}

// constHandle returns the handle of the program's constant number k,
// resolved once per query (its id once per source generation, see
// constIDs).
func (s *solver) constHandle(k int32) hval {
	if c := s.cH[k]; c.epoch == s.idEpoch {
		return c.h
	}
	t := hval(s.e.ctypes[k]) << hTypeShift
	h := hConst | hval(k) | t
	if s.ids != nil {
		v := s.e.cvals[k]
		var id uint32
		var ok bool
		if s.consts != nil {
			id, ok = s.consts.get(s.ids, int(k), v)
		} else {
			id, ok = s.ids.Lookup(v)
		}
		if ok {
			h = hval(id) | t
		}
	}
	s.cH[k] = constEnt{h: h, epoch: s.idEpoch}
	return h
}

// constEnt is the handle of a constant in the query of epoch.
type constEnt struct {
	h     hval
	epoch uint32
}

// selectorOf returns the number of the constant that store handle h is,
// among the program's constants that select rules, or -1 (see
// constIDs.selectors).
func (s *solver) selectorOf(h hval) int32 {
	c := s.consts
	c.selOnce.Do(func() {
		c.sel = make(map[uint32]int32, len(s.e.selectors))
		for _, k := range s.e.selectors {
			if id, ok := c.get(s.ids, int(k), s.e.cvals[k]); ok {
				c.sel[id] = k
			}
		}
	})
	if k, ok := c.sel[h.id()]; ok {
		return k
	}
	return -1
}

// selFields are constIDs' fields for selectorOf.
type selFields struct {
	selOnce sync.Once
	sel     map[uint32]int32 // store id -> constant number
}
