package lang

import (
	"slices"

	"github.com/castellan-authz/castellan/lang/term"
)

// arenaSize is how many Rules or Terms the checker allocates at a time.
// Rules and their call arguments live as long as the Program, so handing
// them out of larger blocks costs nothing in memory held and saves one
// allocation per rule and per call.
const arenaSize = 256

// newRule returns a zero Rule.
func (c *checker) newRule() *Rule {
	if len(c.ruleArena) == 0 {
		c.ruleArena = make([]Rule, arenaSize)
	}
	r := &c.ruleArena[0]
	c.ruleArena = c.ruleArena[1:]
	return r
}

// terms returns a copy of ts, with no spare capacity (an append to it
// allocates rather than writing into a neighbour).
func (c *checker) terms(ts ...Term) []Term {
	out := c.termSlots(len(ts))
	copy(out, ts)
	return out
}

// termSlots returns n nil Terms, with no spare capacity (an append to them
// allocates rather than writing into a neighbour). It never returns nil.
func (c *checker) termSlots(n int) []Term {
	if n == 0 || n > arenaSize/8 {
		return make([]Term, n)
	}
	if len(c.termArena) < n {
		c.termArena = make([]Term, arenaSize)
	}
	out := c.termArena[:n:n]
	c.termArena = c.termArena[n:]
	return out
}

// str returns the constant String s as a Term, boxed once per distinct
// string: role and permission names recur in every block.
func (c *checker) str(s string) Term {
	if t, ok := c.strTerms[s]; ok {
		return t
	}
	if c.strTerms == nil {
		c.strTerms = map[string]Term{}
	}
	t := Term(Const{term.String(s)})
	c.strTerms[s] = t
	return t
}

// varTerm returns c.variable(name) as a Term, boxed once per distinct
// name (every "_" is still a fresh variable).
func (c *checker) varTerm(name string) Term {
	if name == "_" {
		return c.variable(name)
	}
	if t, ok := c.varTerms[name]; ok {
		return t
	}
	if c.varTerms == nil {
		c.varTerms = map[string]Term{}
	}
	t := Term(c.variable(name))
	c.varTerms[name] = t
	return t
}

// factType returns a copy of types, with no spare capacity, for
// Program.FactTypes (which nothing modifies once built).
func (c *checker) factType(types []string) FactType {
	n := len(types)
	if n == 0 || n > arenaSize/8 {
		return slices.Clone(types)
	}
	if len(c.typeArena) < n {
		c.typeArena = make([]string, arenaSize)
	}
	out := c.typeArena[:n:n]
	c.typeArena = c.typeArena[n:]
	copy(out, types)
	return out
}

// paramSlots returns n zero Params, with no spare capacity.
func (c *checker) paramSlots(n int) []Param {
	if n == 0 || n > arenaSize/8 {
		return make([]Param, n)
	}
	if len(c.paramArena) < n {
		c.paramArena = make([]Param, arenaSize)
	}
	out := c.paramArena[:n:n]
	c.paramArena = c.paramArena[n:]
	return out
}
