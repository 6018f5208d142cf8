package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// This file turns the grammar's structs into ast nodes and reports what the
// LL(1) grammar lets through but Polar does not: a missing ',', a call used
// as a value or a term used as a condition, a type where none may be, '::'
// in a name, an unknown block declaration, a misspelt test keyword, ...
// These errors leave the structure clear, so they are collected and
// conversion goes on.

func (p *fileParser) ident(t lexer.Token) *ast.Ident {
	return p.nodes.ident(&t)
}

// name is an identifier that names a rule, a variable or a relation:
// '::' is only for type names.
func (p *fileParser) name(t lexer.Token) *ast.Ident {
	p.checkName(t)
	return p.ident(t)
}

// checkName reports a name that is not a type and holds '::'.
func (p *fileParser) checkName(t lexer.Token) {
	if strings.Contains(t.Value, "::") {
		p.errorf(t.Pos, "only type names may contain '::'", "invalid name %q", t.Value)
	}
}

// present reports whether the grammar filled c: a condition held by value
// is the zero pCond when absent.
func (c *pCond) present() bool {
	a := &c.First
	return a.Global != nil || a.Not != nil || a.Paren != nil || a.Term.Name != nil || a.Term.Str != nil ||
		a.Term.Int != nil || a.Term.Bool != nil || a.Term.Const != nil || a.Term.List != nil
}

// opt returns t, or nil when the grammar did not capture it: an optional
// token captured by value is the zero Token when absent.
func opt(t *lexer.Token) *lexer.Token {
	if t.Type == 0 {
		return nil
	}
	return t
}

func (p *fileParser) str(t lexer.Token) *ast.StringLit {
	return p.nodes.str(&t)
}

// commas checks the separators of a list: every element but the last needs
// a ',' after it; the last may have one only when trailing is allowed.
func (p *fileParser) commas(n int, comma func(int) *lexer.Token, start func(int) lexer.Position, trailing bool) {
	for i := range n {
		c := comma(i)
		switch {
		case i < n-1 && c == nil:
			p.errorf(start(i+1), "separate the elements with ','", "missing ','")
		case i == n-1 && c != nil && !trailing:
			p.errorf(c.Pos, "remove the ','", "unexpected ','")
		}
	}
}

func (p *fileParser) convBlock(b *pBlock) *ast.Block {
	out := &ast.Block{Pos: astPos(b.Kind.Pos), End: astPos(b.Close.Pos), Kind: ast.ResourceBlock, Name: p.ident(b.Name)}
	if b.Kind.Value == "actor" {
		out.Kind = ast.ActorBlock
	}
	p.commas(len(b.Extends), func(i int) *lexer.Token { return opt(&b.Extends[i].Comma) },
		func(i int) lexer.Position { return b.Extends[i].Tok.Pos }, false)
	for _, e := range b.Extends {
		out.Extends = append(out.Extends, p.ident(e.Tok))
	}
	out.Body = p.blockItems(b.Items)
	return out
}

func (p *fileParser) convGlobal(b *pGlobal) *ast.Block {
	return &ast.Block{Pos: astPos(b.Kw.Pos), End: astPos(b.Close.Pos), Kind: ast.GlobalBlock, Body: p.blockItems(b.Items)}
}

func (p *fileParser) blockItems(items []*pBlockItem) []ast.BlockItem {
	var out []ast.BlockItem
	for _, it := range items {
		var item ast.BlockItem
		if it.Cond.present() {
			item = p.shorthand(it)
		} else {
			item = p.declaration(it)
		}
		if item != nil {
			out = append(out, item)
		}
	}
	return out
}

var blockKeywords = []string{"roles", "permissions", "relations"}

// declaration converts `name = ...` in a block. It returns nil (having
// reported why) when the declaration is not one Polar has.
func (p *fileParser) declaration(it *pBlockItem) ast.BlockItem {
	head := it.Head
	kw := head.Value
	known := head.Type == tokIdent && contains(blockKeywords, kw)
	if !known {
		hint := "a block declares roles, permissions or relations"
		if near := nearest(kw, blockKeywords); near != "" && head.Type == tokIdent {
			hint = "did you mean '" + near + "'?"
		}
		p.errorf(head.Pos, hint, "unknown declaration %s", describe(head))
	}
	if it.List != nil {
		list := p.list(it.List)
		switch {
		case !known:
			return nil
		case kw == "relations":
			p.errorf(it.List.Open.Pos, "write relations = { parent: Organization };", "relations are declared with { name: Type, ... }")
			return nil
		}
		d := &ast.Declaration{Pos: astPos(head.Pos), Keyword: kw, Names: make([]*ast.StringLit, 0, len(list.Elems))}
		for _, x := range list.Elems {
			s, ok := x.(*ast.StringLit)
			if !ok {
				p.errs.Add(x.Position(), kw+" are strings", `quote the name: "viewer"`)
				continue
			}
			d.Names = append(d.Names, s)
		}
		return d
	}
	rels := p.relations(it.Rels)
	switch {
	case !known:
		return nil
	case kw != "relations":
		p.errorf(it.Rels.Open.Pos, "write "+kw+` = ["a", "b"];`, "%s are declared with a list of strings", kw)
		return nil
	}
	rels.Pos = astPos(head.Pos)
	return rels
}

func (p *fileParser) relations(r *pRelations) *ast.Relations {
	out := &ast.Relations{}
	p.commas(len(r.Rels), func(i int) *lexer.Token { return opt(&r.Rels[i].Comma) },
		func(i int) lexer.Position { return r.Rels[i].Name.Pos }, true)
	for _, rel := range r.Rels {
		out.Relations = append(out.Relations, &ast.Relation{Pos: astPos(rel.Name.Pos), Name: p.name(rel.Name), Type: p.ident(rel.Type)})
	}
	return out
}

// shorthand converts `head if ...;`. What follows `if` is a role or
// permission (quoted, or an unquoted name such as `role`) with an optional
// `on "relation"`, `global "role"`, or a condition over actor and resource
// in which a quoted string is a role or permission.
func (p *fileParser) shorthand(it *pBlockItem) *ast.Shorthand {
	out := p.nodes.shorthand()
	out.Pos, out.Head = astPos(it.Head.Pos), p.shorthandName(it.Head)
	a := loneAtom(&it.Cond)
	if a != nil && a.Op == nil && a.Type == nil && a.Term.Name != nil && a.Term.Open == nil && a.Term.Entity == nil {
		// `"X" if name;` or `role if role on "parent";`
		out.Implier = p.shorthandName(*a.Term.Name)
		if a.Rel != nil {
			out.On = p.str(*a.Rel)
		}
		return out
	}
	switch cond := p.expr(&it.Cond, true); x := cond.(type) {
	case *ast.ShorthandRef:
		out.Implier, out.Global, out.On = x.Name, x.Global, x.On
	default:
		out.Cond = cond
	}
	return out
}

// loneAtom returns the condition's only atom, or nil when it has
// operators or parentheses.
func loneAtom(x *pCond) *pAtom {
	if a := &x.First; len(x.Rest) == 0 && a.Paren == nil && a.Not == nil {
		return a
	}
	return nil
}

func (p *fileParser) shorthandName(t lexer.Token) *ast.ShorthandName {
	if t.Type == tokString {
		return p.nodes.shorthandName(astPos(t.Pos), unquote(t.Value), true)
	}
	p.checkName(t)
	return p.nodes.shorthandName(astPos(t.Pos), t.Value, false)
}

// expr converts a condition. In a shorthand rule (sh) a quoted string, or
// `global "role"`, is a role or permission.
func (p *fileParser) expr(x *pCond, sh bool) ast.Expr {
	if len(x.Rest) == 0 {
		return p.atom(&x.First, sh)
	}
	// The conjuncts, each a run of atoms joined by 'or'.
	var ands []ast.Expr
	ors := []ast.Expr{p.atom(&x.First, sh)}
	for i, op := range x.Ops {
		if op == "and" {
			ands = append(ands, nary[*ast.Or](ors))
			ors = nil
		}
		ors = append(ors, p.atom(x.Rest[i], sh))
	}
	return nary[*ast.And](append(ands, nary[*ast.Or](ors)))
}

// nary joins operands into a conjunction or a disjunction (T), flattening
// operands that are themselves a T; one operand is itself.
func nary[T interface{ *ast.And | *ast.Or }](xs []ast.Expr) ast.Expr {
	if len(xs) == 1 {
		return xs[0]
	}
	exprs := make([]ast.Expr, 0, max(len(xs), 4))
	for _, x := range xs {
		exprs = appendFlat[T](exprs, x)
	}
	if _, and := any(T(nil)).(*ast.And); and {
		return &ast.And{Pos: exprs[0].Position(), Exprs: exprs}
	}
	return &ast.Or{Pos: exprs[0].Position(), Exprs: exprs}
}

// appendFlat appends x to list, or its operands when x is the same n-ary
// operator (a parenthesised conjunction inside a conjunction).
func appendFlat[T interface{ *ast.And | *ast.Or }](list []ast.Expr, x ast.Expr) []ast.Expr {
	switch n := x.(type) {
	case *ast.And:
		if _, same := any(T(nil)).(*ast.And); same {
			return append(list, n.Exprs...)
		}
	case *ast.Or:
		if _, same := any(T(nil)).(*ast.Or); same {
			return append(list, n.Exprs...)
		}
	}
	return append(list, x)
}

func (p *fileParser) atom(a *pAtom, sh bool) ast.Expr {
	if a.Not != nil {
		return &ast.Not{Pos: astPos(a.Not.Pos), Expr: p.atom(a.Negated, sh)}
	}
	if a.On != nil && (!sh || a.Global != nil || a.Term.Str == nil || a.Op != nil || a.Type != nil) {
		if a.Global != nil && sh {
			p.errorf(a.On.Pos, "a global role is not on a relation", "unexpected 'on' after a global role")
		} else {
			p.errorf(a.On.Pos, "`on \"relation\"` follows a role or permission in a shorthand rule", "unexpected 'on'")
		}
	}
	switch {
	case a.Paren != nil:
		return p.expr(a.Paren, sh)
	case a.Global != nil:
		if !sh {
			p.errorf(a.Global.Pos, "`global \"role\"` is for shorthand rules inside a block", "unexpected 'global'")
		}
		ref := p.nodes.shorthandRef()
		ref.Pos, ref.Global, ref.Name = astPos(a.Global.Pos), true, p.shorthandName(*a.Role)
		return ref
	}
	pos := astPos(termPos(&a.Term))
	left, call := p.termOrCall(&a.Term)
	switch {
	case a.Op != nil:
		if call != nil {
			left = p.callAsValue(call)
		}
		return &ast.Binary{Pos: pos, Op: a.Op.Value, Left: left, Right: p.value(a.Right)}
	case a.Type != nil:
		if call != nil {
			left = p.callAsValue(call)
		}
		return &ast.Matches{Pos: pos, Term: left, Type: p.ident(*a.Type)}
	case call != nil:
		return call
	case sh && a.Term.Str != nil:
		ref := p.nodes.shorthandRef()
		ref.Pos, ref.Name = pos, p.shorthandName(*a.Term.Str)
		if a.Rel != nil {
			ref.On = p.str(*a.Rel)
		}
		return ref
	}
	p.errs.Add(pos, fmt.Sprintf("%s is not a condition", describeTerm(left)),
		"a condition is a call such as f(x), a comparison such as x = 1, or x matches Type")
	return &ast.Call{Pos: pos, Name: &ast.Ident{Pos: pos}}
}

func describeTerm(t ast.Term) string {
	switch n := t.(type) {
	case *ast.Var:
		return "'" + n.Name + "'"
	case *ast.StringLit:
		return "string " + strconv.Quote(n.Value)
	case *ast.IntLit:
		return "integer " + strconv.FormatInt(n.Value, 10)
	case *ast.BoolLit:
		return strconv.FormatBool(n.Value)
	case *ast.EntityLit:
		return n.Type.Name + "{...}"
	case *ast.ConstRef:
		return "@" + n.Name
	}
	return "a list"
}

// termPos is where a term starts.
func termPos(t *pTerm) lexer.Position {
	switch {
	case t.Name != nil:
		return t.Name.Pos
	case t.Str != nil:
		return t.Str.Pos
	case t.Int != nil:
		return t.Int.Pos
	case t.Bool != nil:
		return t.Bool.Pos
	case t.Const != nil:
		return t.Const.Pos
	}
	return t.List.Open.Pos
}

// callAsValue reports a call where a value is wanted and returns the
// variable that stands for it.
func (p *fileParser) callAsValue(c *ast.Call) ast.Term {
	p.errs.Add(c.Pos, fmt.Sprintf("a call to %s cannot be used as a value", c.Name.Name),
		"a call is a condition: write it on its own, joined with 'and'")
	return &ast.Var{Pos: c.Pos, Name: c.Name.Name}
}

// value converts a term where a value is wanted; a call there is reported.
func (p *fileParser) value(t *pTerm) ast.Term {
	v, call := p.termOrCall(t)
	if call != nil {
		return p.callAsValue(call)
	}
	return v
}

// termOrCall converts a term, or returns the call when the term is one
// (the term is nil then).
func (p *fileParser) termOrCall(t *pTerm) (ast.Term, *ast.Call) {
	switch {
	case t.Name != nil && t.Open != nil:
		call := &ast.Call{Pos: astPos(t.Name.Pos), Name: p.name(*t.Name), Args: make([]ast.Term, 0, len(t.Args))}
		p.argCommas(t.Args)
		for i := range t.Args {
			a := &t.Args[i]
			call.Args = append(call.Args, p.value(&a.Term))
			if a.Colon != nil {
				p.typeNotAllowed(a.Colon)
			}
		}
		return nil, call
	case t.Name != nil && t.Entity != nil:
		id := p.value(t.Entity)
		switch id.(type) {
		case *ast.StringLit, *ast.IntLit, *ast.BoolLit:
		default:
			p.errs.Add(id.Position(), fmt.Sprintf("the id of %s{...} must be a literal", t.Name.Value),
				`write the id as a string, an integer or a boolean: User{"alice"}`)
		}
		return &ast.EntityLit{Pos: astPos(t.Name.Pos), Type: p.ident(*t.Name), ID: id}, nil
	case t.Name != nil:
		p.checkName(*t.Name)
		return p.nodes.variable(t.Name), nil
	case t.Str != nil:
		return p.nodes.str(t.Str), nil
	case t.Int != nil:
		v, err := strconv.ParseInt(t.Int.Value, 10, 64)
		if err != nil {
			p.errorf(t.Int.Pos, "integers are 64-bit signed", "integer %s is out of range", t.Int.Value)
		}
		return &ast.IntLit{Pos: astPos(t.Int.Pos), Value: v}, nil
	case t.Bool != nil:
		return &ast.BoolLit{Pos: astPos(t.Bool.Pos), Value: t.Bool.Value == "true"}, nil
	case t.Const != nil:
		return &ast.ConstRef{Pos: astPos(t.Const.Pos), Name: t.Const.Value[1:]}, nil
	}
	return p.list(t.List), nil
}

// typeNotAllowed reports the ':' of a type where none may be.
func (p *fileParser) typeNotAllowed(colon *lexer.Token) {
	p.errorf(colon.Pos, "types go on the parameters of a rule head (x: User) or the arguments of a test assertion",
		"a type is not allowed here")
}

// argCommas checks the ',' between arguments; a trailing ',' is allowed,
// as Oso's own grammar does.
func (p *fileParser) argCommas(args []pArg) {
	p.commas(len(args), func(i int) *lexer.Token { return args[i].Comma },
		func(i int) lexer.Position { return termPos(&args[i].Term) }, true)
}

func (p *fileParser) list(l *pList) *ast.List {
	out := &ast.List{Pos: astPos(l.Open.Pos)}
	p.commas(len(l.Elems), func(i int) *lexer.Token { return l.Elems[i].Comma },
		func(i int) lexer.Position { return termPos(&l.Elems[i].Term) }, true)
	if len(l.Elems) > 0 {
		out.Elems = make([]ast.Term, 0, len(l.Elems))
	}
	for i := range l.Elems {
		e := &l.Elems[i]
		out.Elems = append(out.Elems, p.value(&e.Term))
		if e.Colon != nil {
			p.typeNotAllowed(e.Colon)
		}
	}
	return out
}

func (p *fileParser) convDeclare(d *pDeclare) *ast.Declare {
	out := &ast.Declare{Pos: astPos(d.Kw.Pos), Name: p.name(d.Name)}
	p.commas(len(d.Types), func(i int) *lexer.Token { return opt(&d.Types[i].Comma) },
		func(i int) lexer.Position { return d.Types[i].Tok.Pos }, true)
	for _, t := range d.Types {
		out.Types = append(out.Types, p.ident(t.Tok))
	}
	return out
}

func (p *fileParser) convRule(r *pRule) *ast.Rule {
	out := &ast.Rule{Pos: astPos(r.Name.Pos), End: astPos(r.Semi.Pos), Name: p.name(r.Name)}
	p.argCommas(r.Args.Args)
	out.Params = make([]*ast.Param, 0, len(r.Args.Args))
	for i := range r.Args.Args {
		a := &r.Args.Args[i]
		t := p.value(&a.Term)
		param := p.nodes.param()
		param.Pos, param.Term = t.Position(), t
		if a.Type != nil {
			if _, ok := t.(*ast.Var); !ok {
				p.errorf(a.Colon.Pos, "write a variable with a type (x: User, _: User) or a value alone", "only a variable can have a type")
			}
			param.Type = p.ident(*a.Type)
		}
		out.Params = append(out.Params, param)
	}
	if r.Body.present() {
		out.Body = p.expr(&r.Body, false)
	}
	return out
}

var testKeywords = []string{"setup", "assert", "assert_not"}

func (p *fileParser) convTest(t *pTest) *ast.Test {
	out := &ast.Test{Pos: astPos(t.Kw.Pos), End: astPos(t.Close.Pos), Name: p.str(t.Name)}
	for _, it := range t.Items {
		kw := it.Kw.Value
		want := "setup"
		if it.Open == nil {
			want = "assert"
		}
		if (it.Open != nil && kw != "setup") || (it.Open == nil && kw != "assert" && kw != "assert_not") {
			hint := "a test holds one setup { ... } and assert / assert_not lines"
			if near := nearest(kw, testKeywords); near != "" {
				hint = "did you mean '" + near + "'?"
			}
			p.errorf(it.Kw.Pos, hint, "unexpected %s; expected '%s'", describe(it.Kw), want)
			continue
		}
		if it.Open != nil {
			if out.Setup != nil {
				p.errorf(it.Kw.Pos, "merge the two setup blocks", "a test has at most one setup block")
				continue
			}
			out.Setup = p.convSetup(it)
			continue
		}
		a := &ast.Assertion{Pos: astPos(it.Kw.Pos), Negated: kw == "assert_not", Call: p.call(it.Call, true)}
		if iff := it.Iff; iff != nil {
			a.Iff = &ast.Iff{Pos: astPos(iff.Kw.Pos), Var: p.name(iff.Var), Not: iff.Not, List: p.list(&iff.List)}
		}
		out.Assertions = append(out.Assertions, a)
	}
	return out
}

func (p *fileParser) convSetup(it *pTestItem) *ast.Setup {
	s := &ast.Setup{Pos: astPos(it.Kw.Pos)}
	for _, si := range it.Setup {
		if si.Fixture != nil {
			if si.Name.Value != "fixture" {
				hint := "write fixture name; or a fact such as has_role(...);"
				if nearest(si.Name.Value, []string{"fixture"}) != "" {
					hint = "did you mean 'fixture'?"
				}
				p.errorf(si.Name.Pos, hint, "unexpected %s", describe(si.Name))
				continue
			}
			id := p.name(*si.Fixture)
			s.Fixtures = append(s.Fixtures, id)
			s.Order = append(s.Order, id)
			continue
		}
		c := p.call(&pCall{Name: si.Name, Args: *si.Args}, false)
		s.Facts = append(s.Facts, c)
		s.Order = append(s.Order, c)
	}
	return s
}

func (p *fileParser) convFixture(f *pFixture) *ast.Fixture {
	out := &ast.Fixture{Pos: astPos(f.Kw.Pos), End: astPos(f.Close.Pos), Name: p.name(f.Name)}
	for _, c := range f.Facts {
		out.Facts = append(out.Facts, p.call(c, false))
	}
	return out
}

// call converts a fact or an assertion; typed arguments (x: String) are
// allowed only in test assertions.
func (p *fileParser) call(c *pCall, typed bool) *ast.Call {
	out := &ast.Call{Pos: astPos(c.Name.Pos), Name: p.name(c.Name), Args: make([]ast.Term, 0, len(c.Args.Args))}
	p.argCommas(c.Args.Args)
	for i := range c.Args.Args {
		a := &c.Args.Args[i]
		t := p.value(&a.Term)
		if a.Type != nil {
			v, ok := t.(*ast.Var)
			switch {
			case !typed:
				p.typeNotAllowed(a.Colon)
			case !ok:
				p.errorf(a.Colon.Pos, "write a variable with a type (x: String, _: User) or a value alone", "only a variable can have a type")
			default:
				t = &ast.TypedVar{Pos: v.Pos, Name: v.Name, Type: p.ident(*a.Type)}
			}
		}
		out.Args = append(out.Args, t)
	}
	return out
}
