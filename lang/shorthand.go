package lang

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/castellan-authz/castellan/lang/ast"
)

// Variables of desugared shorthand rules.
const (
	nameActor    = "actor"
	nameResource = "resource"
	nameRelated  = "related"
)

// expandBlock desugars every shorthand rule of a block, in source order.
func (c *checker) expandBlock(n *ast.Block) {
	b := c.blockOf(n)
	if b == nil {
		return
	}
	for _, it := range n.Body {
		if s, ok := it.(*ast.Shorthand); ok {
			if rules, ok := c.expandEach(b, s); ok {
				for _, r := range rules {
					c.addRule(r)
				}
				continue
			}
			c.addRule(c.expandShorthand(b, s))
		}
	}
}

// expandEach desugars `permission if "admin" on "org";` (and likewise with
// role, or any quoted implier): every permission (role) declared in block b
// is implied, as if the rule were written once for each with a quoted head.
// ok is false for the other shorthand rules.
func (c *checker) expandEach(b *block, s *ast.Shorthand) (rules []*Rule, ok bool) {
	if s.Head == nil || s.Head.Quoted || s.Implier == nil || !s.Implier.Quoted ||
		(s.Head.Name != "role" && s.Head.Name != "permission") {
		return nil, false
	}
	kind := declRole
	if s.Head.Name == "permission" {
		kind = declPermission
	}
	names := b.names(kind)
	if len(names) == 0 {
		c.errorf(s.Head.Pos, "declare them: "+s.Head.Name+"s = [...];",
			"`%s`: %s declares no %ss", strings.TrimSuffix(shorthandSource(s), ";"), b.name, s.Head.Name)
		return nil, true
	}
	slices.Sort(names)
	for _, name := range names {
		each := *s
		each.Head = &ast.ShorthandName{Pos: s.Head.Pos, Name: name, Quoted: true}
		r := c.expandShorthand(b, &each)
		if r == nil {
			return rules, true // the error is the same for every name
		}
		r.Text = shorthandSource(s)
		rules = append(rules, r)
	}
	return rules, true
}

// blockOf returns the checker's record of a block node (nil for a
// duplicate, which was reported).
func (c *checker) blockOf(n *ast.Block) *block {
	if n.Kind == ast.GlobalBlock {
		if c.global != nil && c.global.node == n {
			return c.global
		}
		return nil
	}
	if n.Name == nil {
		return nil
	}
	if b := c.blocks[n.Name.Name]; b != nil && b.node == n {
		return b
	}
	return nil
}

// expandShorthand desugars one shorthand rule of block b (see docs/polar.md
// for the argument order), or reports why it cannot.
func (c *checker) expandShorthand(b *block, s *ast.Shorthand) *Rule {
	if s.Head == nil || (s.Implier == nil && s.Cond == nil) {
		return nil
	}
	global := b.kind == ast.GlobalBlock
	arity := 3
	if global {
		arity = 2
	}
	// Head parameters: (actor: Actor, head, resource: R), or 2-ary in global.
	params := func(head Term) []Param {
		ps := c.paramSlots(arity)
		ps[0], ps[1] = Param{Term: Var{nameActor}, Type: AbstractActor}, Param{Term: head}
		if !global {
			ps[2] = Param{Term: Var{nameResource}, Type: b.name}
		}
		return ps
	}
	rule := c.newRule()
	rule.Pos, rule.Text = s.Pos, shorthandSource(s)

	if !s.Head.Quoted {
		if s.Cond != nil {
			c.errorf(s.Head.Pos, "quote the head: `\"read\" if is_public(resource);`", "a shorthand rule with a condition needs a quoted head")
			return nil
		}
		return c.expandUnquoted(b, s, rule, params)
	}

	// Quoted head: a role or permission of this block.
	hd, ok := b.all[s.Head.Name]
	switch {
	case !ok:
		c.errorf(s.Head.Pos, hintFor(s.Head.Name, b.names(declRole, declPermission), "roles and permissions", b.name),
			"%q is not a role or permission of %s", s.Head.Name, b.name)
		return nil
	case hd.kind == declRelation:
		c.errorf(s.Head.Pos, "a shorthand rule derives a role or a permission; relations come from facts",
			"%q is a relation of %s and cannot be the head of a shorthand rule", s.Head.Name, b.name)
		return nil
	}
	if hd.kind == declPermission {
		hd.owner.granted[s.Head.Name] = true
	}
	rule.Pred = Pred{hd.kind.predicate(), arity}
	rule.Params = params(c.str(s.Head.Name))
	if s.Cond != nil {
		return c.expandCondition(b, s, rule, arity)
	}
	if !s.Implier.Quoted {
		return c.expandAnyImplier(b, s, rule, arity)
	}
	impl := c.str(s.Implier.Name)

	switch {
	case s.Global:
		// "X" if global "g";
		if c.global == nil {
			c.errorf(s.Implier.Pos, "declare it in a global block: global { roles = [\""+s.Implier.Name+"\"]; }",
				"global %q: the policy has no global block", s.Implier.Name)
			return nil
		}
		d, ok := c.global.all[s.Implier.Name]
		if !ok || d.kind == declRelation {
			c.errorf(s.Implier.Pos, hintFor(s.Implier.Name, c.global.names(declRole, declPermission), "roles and permissions", "the global block"),
				"%q is not a role or permission of the global block", s.Implier.Name)
			return nil
		}
		c.global.used[s.Implier.Name] = true
		rule.Body = Call{Pred: Pred{d.kind.predicate(), 2}, Args: c.terms(Var{nameActor}, impl), Pos: s.Implier.Pos}

	case s.On == nil:
		// "X" if "Y"; with Y declared in this block.
		d, ok := b.all[s.Implier.Name]
		if !ok {
			hint := c.elsewhereHint(b, s)
			if hint == "" {
				hint = hintFor(s.Implier.Name, b.names(declRole, declPermission, declRelation), "roles, permissions and relations", b.name)
			}
			c.errorf(s.Implier.Pos, hint, "%q is not a role, permission or relation of %s", s.Implier.Name, b.name)
			return nil
		}
		d.owner.used[s.Implier.Name] = true
		if d.kind == declRelation {
			// "owner" if "creator"; (creator: User) -> has_relation(resource, "creator", actor)
			if c.blocks[d.target] != nil && c.blocks[d.target].kind != ast.ActorBlock {
				// Oso Cloud accepts it, so it loads; but only an actor can hold it.
				c.warnf(s.Implier.Pos, "did you mean `\""+s.Head.Name+"\" if \"<role>\" on \""+s.Implier.Name+"\"`?",
					"relation %q of %s targets %s, which is not an actor type: no actor can hold %q through it", s.Implier.Name, b.name, d.target, s.Head.Name)
			}
			rule.Body = Call{Pred: Pred{"has_relation", 3}, Args: c.terms(Var{nameResource}, impl, Var{nameActor}), Pos: s.Implier.Pos}
			break
		}
		rule.Body = Call{Pred: Pred{d.kind.predicate(), arity}, Args: c.callArgs(global, impl, Var{nameResource}), Pos: s.Implier.Pos}

	default:
		// "X" if "Y" on "rel"; (rel: T) with Y declared in T.
		rel, target := c.lookupRelation(b, s.On)
		if rel == nil {
			return nil
		}
		tb := c.blocks[target]
		if tb == nil {
			return nil // the relation's target was reported
		}
		d, ok := tb.all[s.Implier.Name]
		if !ok {
			c.errorf(s.Implier.Pos, hintFor(s.Implier.Name, tb.names(declRole, declPermission, declRelation), "roles, permissions and relations", tb.name),
				"%q is not a role, permission or relation of %s (the type of %s.%s)", s.Implier.Name, tb.name, b.name, s.On.Value)
			return nil
		}
		d.owner.used[s.Implier.Name] = true
		var last Expr
		if d.kind == declRelation {
			last = Call{Pred: Pred{"has_relation", 3}, Args: c.terms(Var{nameRelated}, impl, Var{nameActor}), Pos: s.Implier.Pos}
		} else {
			last = Call{Pred: Pred{d.kind.predicate(), 3}, Args: c.terms(Var{nameActor}, impl, Var{nameRelated}), Pos: s.Implier.Pos}
		}
		rule.Body = And{Exprs: []Expr{
			Call{Pred: Pred{"has_relation", 3}, Args: c.terms(Var{nameResource}, c.str(s.On.Value), Var{nameRelated}), Pos: s.On.Pos},
			Matches{Term: Var{nameRelated}, Type: target},
			last,
		}}
	}
	return rule
}

// elsewhereHint suggests where an implier missing from block b is
// declared: in the global block (`global "admin"`) or in the block of one
// of b's relations (`on "parent"`).
func (c *checker) elsewhereHint(b *block, s *ast.Shorthand) string {
	name := s.Implier.Name
	head := strconv.Quote(s.Head.Name)
	if b.kind != ast.GlobalBlock && c.global != nil {
		if d, ok := c.global.all[name]; ok && d.kind != declRelation {
			return fmt.Sprintf("%q is a %s of the global block: write `%s if global %q;`", name, d.kind, head, name)
		}
	}
	var rels []string
	for rel, d := range b.all {
		if tb := c.blocks[d.target]; d.kind == declRelation && tb != nil {
			if _, ok := tb.all[name]; ok {
				rels = append(rels, rel)
			}
		}
	}
	if len(rels) == 0 {
		return ""
	}
	sort.Strings(rels)
	return fmt.Sprintf("%q is declared on %s, the type of %s.%s: write `%s if %q on %q;`",
		name, b.all[rels[0]].target, b.name, rels[0], head, name, rels[0])
}

func (c *checker) callArgs(global bool, name Term, resource Term) []Term {
	if global {
		return c.terms(Var{nameActor}, name)
	}
	return c.terms(Var{nameActor}, name, resource)
}

// lookupRelation resolves `on "rel"` against block b.
func (c *checker) lookupRelation(b *block, on *ast.StringLit) (*decl, string) {
	if b.kind == ast.GlobalBlock {
		c.errorf(on.Pos, "", "the global block has no relations: `on %q` cannot be used there", on.Value)
		return nil, ""
	}
	d, ok := b.all[on.Value]
	if !ok || d.kind != declRelation {
		what := "not declared"
		if ok {
			what = "a " + d.kind.String() + ", not a relation"
		}
		c.errorf(on.Pos, hintFor(on.Value, b.names(declRelation), "relations", b.name),
			"on %q: %q is %s in %s", on.Value, on.Value, what, b.name)
		return nil, ""
	}
	return d, d.target
}

// expandUnquoted desugars `role if role on "rel";` and
// `permission if permission on "rel";`: every role (permission) of the
// related resource propagates.
func (c *checker) expandUnquoted(b *block, s *ast.Shorthand, rule *Rule, params func(Term) []Param) *Rule {
	switch {
	case s.Implier.Quoted || s.Head.Name != s.Implier.Name:
		c.errorf(s.Pos, "write `role if role on \"relation\";` to inherit every role, or quote the head",
			"`%s`: an unquoted head needs the same unquoted name as implier", strings.TrimSuffix(rule.Text, ";"))
		return nil
	case s.Head.Name != "role" && s.Head.Name != "permission":
		c.errorf(s.Head.Pos, "did you mean `role if role on \"...\";`?", "unquoted shorthand name %s: only role and permission may be unquoted", s.Head.Name)
		return nil
	case s.Global:
		c.errorf(s.Implier.Pos, "", "global cannot be used with an unquoted %s", s.Head.Name)
		return nil
	case s.On == nil:
		c.errorf(s.Pos, "add the relation to inherit from: `"+s.Head.Name+" if "+s.Head.Name+" on \"parent\";`",
			"%s if %s needs `on \"relation\"`", s.Head.Name, s.Implier.Name)
		return nil
	}
	rel, target := c.lookupRelation(b, s.On)
	if rel == nil {
		return nil
	}
	kind := declRole
	if s.Head.Name == "permission" {
		kind = declPermission
	}
	if tb := c.blocks[target]; tb != nil {
		for name, d := range tb.all {
			if d.kind == kind {
				d.owner.used[name] = true
			}
		}
	}
	if kind == declPermission {
		for name, d := range b.all {
			if d.kind == declPermission {
				d.owner.granted[name] = true
			}
		}
	}
	v := Var{s.Head.Name}
	rule.Pred = Pred{kind.predicate(), 3}
	rule.Params = params(v)
	rule.Body = And{Exprs: []Expr{
		Call{Pred: Pred{"has_relation", 3}, Args: c.terms(Var{nameResource}, c.str(s.On.Value), Var{nameRelated}), Pos: s.On.Pos},
		Matches{Term: Var{nameRelated}, Type: target},
		Call{Pred: Pred{kind.predicate(), 3}, Args: c.terms(Var{nameActor}, v, Var{nameRelated}), Pos: s.Implier.Pos},
	}}
	return rule
}

// expandCondition desugars `"read" if is_public(resource);`: the condition
// becomes the body, over the head's variables actor and resource. A role
// or permission inside the condition (`"member" on "parent"`, `global
// "admin"`) becomes the body it would have as the implier of a shorthand
// rule of its own.
func (c *checker) expandCondition(b *block, s *ast.Shorthand, rule *Rule, arity int) *Rule {
	errsBefore := len(c.errs)
	c.shorthandRefs = map[*ast.ShorthandRef]Expr{}
	defer func() { c.shorthandRefs = nil }()
	related := 0
	for _, ref := range shorthandRefs(s.Cond, nil) {
		r := c.expandShorthand(b, &ast.Shorthand{Pos: ref.Pos, Head: s.Head, Implier: ref.Name, Global: ref.Global, On: ref.On})
		if r == nil {
			continue
		}
		body := r.Body
		if ref.On != nil {
			// Each `on` gets its own related resource.
			related++
			if related > 1 {
				body = renameVar(body, nameRelated, nameRelated+"#"+strconv.Itoa(related))
			}
		}
		c.shorthandRefs[ref] = body
	}
	if len(c.errs) > errsBefore {
		return nil
	}
	rule.Body = c.convertExpr(s.Cond, 0)
	if len(c.errs) > errsBefore {
		return nil
	}
	// Check safety as for the rule it stands for.
	head := []*ast.Param{{Term: &ast.Var{Name: nameActor}}, {Term: &ast.StringLit{Value: s.Head.Name}}}
	if arity == 3 {
		head = append(head, &ast.Param{Term: &ast.Var{Name: nameResource}})
	}
	c.checkSafety(&ast.Rule{Pos: s.Pos, Params: head, Body: s.Cond})
	c.checkMixedAndOr(s.Cond)
	if len(c.errs) > errsBefore {
		return nil
	}
	rule.Text = strconv.Quote(s.Head.Name) + " if " + FormatExpr(rule.Body) + ";"
	return rule
}

// expandAnyImplier desugars `"X" if role on "rel";` (X holds when the actor
// has any role on the related resource) and `"X" if role;` (any role on this
// resource); likewise with permission. rule already has its head.
func (c *checker) expandAnyImplier(b *block, s *ast.Shorthand, rule *Rule, arity int) *Rule {
	kind := declRole
	switch {
	case s.Implier.Name == "permission":
		kind = declPermission
	case s.Implier.Name != "role":
		c.errorf(s.Implier.Pos, "quote it if it is a declared name, or write `role` for any role",
			"unquoted implier %s: only role and permission may be unquoted", s.Implier.Name)
		return nil
	case s.Global:
		c.errorf(s.Implier.Pos, "", "global cannot be used with an unquoted %s", s.Implier.Name)
		return nil
	}
	anyName := c.variable("_")
	if s.On == nil {
		rule.Body = Call{Pred: Pred{kind.predicate(), arity}, Args: c.callArgs(arity == 2, anyName, Var{nameResource}), Pos: s.Implier.Pos}
		return rule
	}
	rel, target := c.lookupRelation(b, s.On)
	if rel == nil {
		return nil
	}
	if tb := c.blocks[target]; tb != nil {
		for name, d := range tb.all {
			if d.kind == kind {
				d.owner.used[name] = true
			}
		}
	}
	rule.Body = And{Exprs: []Expr{
		Call{Pred: Pred{"has_relation", 3}, Args: c.terms(Var{nameResource}, c.str(s.On.Value), Var{nameRelated}), Pos: s.On.Pos},
		Matches{Term: Var{nameRelated}, Type: target},
		Call{Pred: Pred{kind.predicate(), 3}, Args: c.terms(Var{nameActor}, anyName, Var{nameRelated}), Pos: s.Implier.Pos},
	}}
	return rule
}

// shorthandSource renders a shorthand rule as written.
func shorthandSource(s *ast.Shorthand) string {
	var arr [96]byte // one allocation: the string
	name := func(out []byte, n *ast.ShorthandName) []byte {
		if n == nil {
			return append(out, '?')
		}
		if n.Quoted {
			return strconv.AppendQuote(out, n.Name)
		}
		return append(out, n.Name...)
	}
	out := name(arr[:0], s.Head)
	out = append(out, " if "...)
	if s.Global {
		out = append(out, "global "...)
	}
	if s.Implier != nil {
		out = name(out, s.Implier)
	}
	if s.On != nil {
		out = append(out, " on "...)
		out = strconv.AppendQuote(out, s.On.Value)
	}
	out = append(out, ';')
	return string(out)
}

// shorthandRefs appends the roles and permissions inside a shorthand
// condition.
func shorthandRefs(e ast.Expr, out []*ast.ShorthandRef) []*ast.ShorthandRef {
	switch e := e.(type) {
	case *ast.ShorthandRef:
		out = append(out, e)
	case *ast.And:
		for _, x := range e.Exprs {
			out = shorthandRefs(x, out)
		}
	case *ast.Or:
		for _, x := range e.Exprs {
			out = shorthandRefs(x, out)
		}
	case *ast.Not:
		out = shorthandRefs(e.Expr, out)
	}
	return out
}

// renameVar returns e with the variable from renamed to, in the shapes a
// shorthand expansion produces (And, Call, Matches).
func renameVar(e Expr, from, to string) Expr {
	rename := func(t Term) Term {
		if v, ok := t.(Var); ok && v.Name == from {
			return Var{to}
		}
		return t
	}
	switch e := e.(type) {
	case And:
		out := And{Exprs: make([]Expr, len(e.Exprs))}
		for i, x := range e.Exprs {
			out.Exprs[i] = renameVar(x, from, to)
		}
		return out
	case Call:
		args := make([]Term, len(e.Args))
		for i, a := range e.Args {
			args[i] = rename(a)
		}
		e.Args = args
		return e
	case Matches:
		e.Term = rename(e.Term)
		return e
	}
	return e
}
