package lang

import "github.com/castellan-authz/castellan/lang/term"

// TypeMatches reports whether a value of type valueType satisfies the type
// constraint constraint (a specializer, a `matches` type or a fact type):
//
//   - "" matches every type, and equal names match;
//   - Actor matches every actor-block type, and every type that extends one;
//   - Resource matches every block type: resource blocks, and actor blocks
//     too (in Polar the abstract Actor type extends Resource);
//   - a type matches the types it extends, transitively;
//   - primitives (String, Integer, Boolean) match only themselves.
//
// valueType may itself be abstract: Actor matches Resource.
func (p *Program) TypeMatches(valueType, constraint string) bool {
	if constraint == "" || valueType == constraint {
		return true
	}
	if term.IsPrimitiveType(valueType) || term.IsPrimitiveType(constraint) {
		return false
	}
	switch constraint {
	case AbstractActor:
		return p.IsActorType(valueType) || p.extendsActor(valueType, 0)
	case AbstractResource:
		return valueType == AbstractActor || p.Types[valueType] != nil
	}
	return p.extends(valueType, constraint, 0)
}

// extendsActor reports whether typ extends an actor type, transitively.
func (p *Program) extendsActor(typ string, depth int) bool {
	info := p.Types[typ]
	if info == nil || depth > len(p.Types) {
		return false
	}
	for _, e := range info.Extends {
		if p.IsActorType(e) || p.extendsActor(e, depth+1) {
			return true
		}
	}
	return false
}

// extends reports whether typ extends super, directly or transitively.
// The checker rejects cycles; depth guards hand-built programs.
func (p *Program) extends(typ, super string, depth int) bool {
	info := p.Types[typ]
	if info == nil || depth > len(p.Types) {
		return false
	}
	for _, e := range info.Extends {
		if e == super || p.extends(e, super, depth+1) {
			return true
		}
	}
	return false
}

// IsActorType reports whether t is declared by an actor block.
func (p *Program) IsActorType(t string) bool {
	info := p.Types[t]
	return info != nil && info.Kind == ActorType
}

// IsResourceType reports whether t is declared by a resource block.
func (p *Program) IsResourceType(t string) bool {
	info := p.Types[t]
	return info != nil && info.Kind == ResourceType
}
