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

// sameString reports whether a and b are the same string: the same bytes
// at the same place.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}
