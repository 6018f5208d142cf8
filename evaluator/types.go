package evaluator

import (
	"unsafe"

	"github.com/castellan-authz/castellan/lang"
)

// typeSys answers type-constraint questions for one program: whether a
// value of one type satisfies a specializer or `matches` constraint.
type typeSys struct {
	nodes map[string]*typeNode
}

type typeNode struct {
	actor, resource bool
	ancestors       map[string]bool // transitive extends, excluding itself
}

func newTypeSys(p *lang.Program) typeSys {
	ts := typeSys{nodes: map[string]*typeNode{}}
	if p == nil {
		return ts
	}
	for name := range p.Types {
		n := &typeNode{ancestors: map[string]bool{}}
		// Walk extends transitively, guarding against cycles.
		stack := []string{name}
		seen := map[string]bool{}
		for len(stack) > 0 {
			cur := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[cur] {
				continue
			}
			seen[cur] = true
			if cur != name {
				n.ancestors[cur] = true
			}
			if ti := p.Types[cur]; ti != nil {
				switch ti.Kind {
				case lang.ActorType:
					// In Polar the abstract Actor type extends Resource.
					n.actor, n.resource = true, true
				case lang.ResourceType:
					n.resource = true
				}
				stack = append(stack, ti.Extends...)
			}
		}
		ts.nodes[name] = n
	}
	return ts
}

// matches reports whether a value of type vt satisfies constraint c, as
// (*lang.Program).TypeMatches, from tables built once: "" matches
// everything, Actor every actor type, Resource every resource or actor
// type, and a concrete type itself and every type that extends it.
func (ts *typeSys) matches(vt, c string) bool {
	if c == "" || vt == c {
		return true
	}
	if vt == lang.AbstractActor && c == lang.AbstractResource {
		return true
	}
	n := ts.nodes[vt]
	if n == nil {
		return false
	}
	switch c {
	case lang.AbstractActor:
		return n.actor
	case lang.AbstractResource:
		return n.resource
	}
	return n.ancestors[c]
}

// intersect returns the constraint satisfied exactly by the values that
// satisfy both a and b, when it is one of them.
func (ts *typeSys) intersect(a, b string) (string, bool) {
	switch {
	case a == b || b == "":
		return a, true
	case a == "":
		return b, true
	case ts.matches(a, b):
		return a, true
	case ts.matches(b, a):
		return b, true
	}
	return "", false
}

// typeMemoBits sizes the solver's memo of type matches (see typeMatches).
const typeMemoBits = 7

// typeEnt is one remembered answer of typeSys.matches(vt, c).
type typeEnt struct {
	vt, c string
	ok    bool
}

// sameString reports whether a and b are the same string: the same bytes
// at the same place.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// typeMatches is s.e.types.matches(vt, c): equal names match, and the
// answer for two different names is remembered by where their strings
// are: the type names a query compares are few and each is spelled at a
// few places (the program's rules, the source's type table, the
// question), so that most answers are found without hashing a name. An
// entry holds its strings, so that their places are not reused while it
// is remembered; the answers hold for the evaluator's program, whose
// solvers alone share the memo.
func (s *solver) typeMatches(vt, c string) bool {
	if c == "" || vt == c { // the common case: a value of the very type
		return true
	}
	h := (uint64(uintptr(unsafe.Pointer(unsafe.StringData(vt))))*31 ^ uint64(uintptr(unsafe.Pointer(unsafe.StringData(c))))) * 0x9E3779B97F4A7C15
	e := &s.typeMemo[h>>(64-typeMemoBits)]
	if sameString(e.vt, vt) && sameString(e.c, c) {
		return e.ok
	}
	ok := s.e.types.matches(vt, c)
	*e = typeEnt{vt: vt, c: c, ok: ok}
	return ok
}

// typeIntersect is s.e.types.intersect(a, b), its matches remembered (see
// typeMatches).
func (s *solver) typeIntersect(a, b string) (string, bool) {
	switch {
	case a == b || b == "":
		return a, true
	case a == "":
		return b, true
	case s.typeMatches(a, b):
		return a, true
	case s.typeMatches(b, a):
		return b, true
	}
	return "", false
}
