package lang

import (
	"strings"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
)

// testFact is a setup fact with where it was written, checked against the
// fact types once they are known.
type testFact struct {
	pos  ast.Position
	fact term.Fact
}

// convertTest converts a test block into Program.Tests.
func (c *checker) convertTest(n *ast.Test) {
	t := &Test{Pos: n.Pos}
	if n.Name != nil {
		t.Name = n.Name.Value
		for _, prev := range c.prog.Tests {
			if prev.Name == t.Name {
				c.errorf(n.Name.Pos, "give every test a distinct name", "duplicate test %q (the first is at %s)", t.Name, prev.Pos)
			}
		}
	}
	if s := n.Setup; s != nil {
		order := s.Order
		if len(order) == 0 {
			for _, f := range s.Fixtures {
				order = append(order, f)
			}
			for _, f := range s.Facts {
				order = append(order, f)
			}
		}
		for _, it := range order {
			switch it := it.(type) {
			case *ast.Ident:
				t.Facts = append(t.Facts, c.fixtureFacts(it)...)
			case *ast.Call:
				if f, ok := c.groundFact(it); ok {
					t.Facts = append(t.Facts, f)
				}
			}
		}
	}
	for _, a := range n.Assertions {
		if as := c.convertAssertion(a); as != nil {
			t.Assertions = append(t.Assertions, as)
		}
	}
	c.prog.Tests = append(c.prog.Tests, t)
}

// fixtureFacts returns the facts of a referenced fixture.
func (c *checker) fixtureFacts(ref *ast.Ident) []term.Fact {
	fx, ok := c.fixtures[ref.Name]
	if !ok {
		names := make([]string, 0, len(c.fixtures))
		for name := range c.fixtures {
			names = append(names, name)
		}
		hint := hintFor(ref.Name, names, "", "")
		if hint == "" {
			hint = "declare it with `test fixture " + ref.Name + " { ... }`"
		}
		c.errorf(ref.Pos, hint, "unknown test fixture %s", ref.Name)
		return nil
	}
	if c.fixtureCache == nil {
		c.fixtureCache = map[*ast.Fixture][]term.Fact{}
	}
	if facts, ok := c.fixtureCache[fx]; ok {
		return facts
	}
	facts := []term.Fact{}
	for _, call := range fx.Facts {
		if f, ok := c.groundFact(call); ok {
			facts = append(facts, f)
		}
	}
	c.fixtureCache[fx] = facts
	return facts
}

// groundFact converts a setup fact, which must be ground.
func (c *checker) groundFact(call *ast.Call) (term.Fact, bool) {
	if call == nil || call.Name == nil {
		return term.Fact{}, false
	}
	f := term.Fact{Predicate: call.Name.Name}
	ok := true
	for _, a := range call.Args {
		v, good := c.groundValue(a, "a test setup fact")
		ok = ok && good
		f.Args = append(f.Args, v)
	}
	if ok {
		c.testFacts = append(c.testFacts, testFact{pos: call.Pos, fact: f})
	}
	return f, ok
}

// groundValue converts a literal; anything else is reported.
func (c *checker) groundValue(t ast.Term, where string) (term.Value, bool) {
	switch t := t.(type) {
	case *ast.StringLit:
		return term.String(t.Value), true
	case *ast.IntLit:
		return term.Integer(t.Value), true
	case *ast.BoolLit:
		return term.Bool(t.Value), true
	case *ast.EntityLit:
		return c.entity(t)
	case *ast.Var:
		c.errorf(t.Pos, "facts must be ground: write a value such as User{\"alice\"}", "%s cannot hold the variable %s", where, t.Name)
	case *ast.TypedVar:
		c.errorf(t.Pos, "facts must be ground: write a value such as User{\"alice\"}", "%s cannot hold the variable %s", where, t.Name)
	case nil:
	default:
		c.errorf(t.Position(), "", "%s must hold only values (strings, integers, booleans, Type{\"id\"})", where)
	}
	return term.Value{}, false
}

// convertAssertion converts assert / assert_not.
func (c *checker) convertAssertion(n *ast.Assertion) *Assertion {
	if n.Call == nil || n.Call.Name == nil {
		return nil
	}
	a := &Assertion{Negated: n.Negated, Pos: n.Pos, VarTypes: map[string]string{}}
	a.Call = Call{Pred: Pred{n.Call.Name.Name, len(n.Call.Args)}, Pos: n.Call.Pos}
	untyped := map[string]bool{}
	ok := true
	for _, t := range n.Call.Args {
		switch t := t.(type) {
		case *ast.Var:
			if t.Name != "_" {
				untyped[t.Name] = true
				if n.Iff == nil || n.Iff.Var == nil || n.Iff.Var.Name != t.Name {
					c.errorf(t.Pos, "give it a type (`"+t.Name+": String`) and an iff clause, or write `_` for any value",
						"variable %s in an assertion must be typed", t.Name)
					ok = false
				}
			}
			a.Call.Args = append(a.Call.Args, c.variable(t.Name))
		case *ast.TypedVar:
			v := c.variable(t.Name)
			if t.Type != nil {
				c.checkTypeName(t.Type)
				a.VarTypes[v.Name] = t.Type.Name
			}
			a.Call.Args = append(a.Call.Args, v)
		case *ast.ConstRef:
			a.Call.Args = append(a.Call.Args, c.convertTerm(t))
		default:
			v, good := c.groundValue(t, "an assertion")
			ok = ok && good
			a.Call.Args = append(a.Call.Args, Const{v})
		}
	}
	if iff := n.Iff; iff != nil && iff.Var != nil {
		name := iff.Var.Name
		typ, typed := a.VarTypes[name]
		switch {
		case untyped[name]:
			c.errorf(iff.Var.Pos, "write `"+name+": Type` in the assertion", "iff variable %s must be typed in the assertion", name)
			ok = false
		case !typed:
			c.errorf(iff.Var.Pos, "use a typed variable of the assertion, such as `action: String`", "iff variable %s is not used in the assertion", name)
			ok = false
		}
		out := &Iff{Var: name, Not: iff.Not, Values: []term.Value{}}
		if iff.List != nil {
			for _, e := range iff.List.Elems {
				v, good := c.groundValue(e, "an iff list")
				if good && typed && term.IsPrimitiveType(typ) && v.Type != typ {
					c.errorf(e.Position(), "", "iff value %s is not a %s, the type of %s", v, typ, name)
					good = false
				}
				ok = ok && good
				out.Values = append(out.Values, v)
			}
		}
		a.Iff = out
	}
	a.Text = assertionSource(a)
	if !ok {
		return nil
	}
	return a
}

// assertionSource renders an assertion in Polar syntax.
func assertionSource(a *Assertion) string {
	var b strings.Builder
	if a.Negated {
		b.WriteString("assert_not ")
	} else {
		b.WriteString("assert ")
	}
	b.WriteString(a.Call.Pred.Name)
	b.WriteByte('(')
	for i, t := range a.Call.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeTerm(&b, t)
		if v, ok := t.(Var); ok && a.VarTypes[v.Name] != "" {
			b.WriteString(": " + a.VarTypes[v.Name])
		}
	}
	b.WriteByte(')')
	if a.Iff != nil {
		b.WriteString(" iff " + a.Iff.Var)
		if a.Iff.Not {
			b.WriteString(" not")
		}
		b.WriteString(" in [")
		for i, v := range a.Iff.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.String())
		}
		b.WriteByte(']')
	}
	b.WriteByte(';')
	return b.String()
}

// checkTestFacts warns about setup facts the policy could not store.
func (c *checker) checkTestFacts() {
	for _, tf := range c.testFacts {
		if err := c.prog.CheckFact(tf.fact); err != nil {
			c.warnf(tf.pos, "", "setup fact %s could not be stored under this policy: %v", tf.fact, err)
		}
	}
}
