package parser

import (
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// This file turns participle's parse structs into ast nodes, reporting what
// the grammar accepts but Polar does not (a type on a literal, an integer
// out of range, '::' in a variable name, ...).

func (p *fileParser) ident(t lexer.Token) *ast.Ident {
	return &ast.Ident{Pos: astPos(t.Pos), Name: t.Value}
}

// name is an identifier that names a rule, a variable or a relation:
// '::' is only for type names.
func (p *fileParser) name(t lexer.Token) *ast.Ident {
	if strings.Contains(t.Value, "::") {
		p.errorf(t.Pos, "only type names may contain '::'", "invalid name %q", t.Value)
	}
	return p.ident(t)
}

func (p *fileParser) str(t lexer.Token) *ast.StringLit {
	return &ast.StringLit{Pos: astPos(t.Pos), Value: unquote(t.Value)}
}

func (p *fileParser) convBlock(b *pBlock) *ast.Block {
	out := &ast.Block{Pos: astPos(b.Kind.Pos), End: astPos(b.Close.Pos), Kind: ast.ResourceBlock, Name: p.ident(b.Name)}
	if b.Kind.Value == "actor" {
		out.Kind = ast.ActorBlock
	}
	for _, e := range b.Extends {
		out.Extends = append(out.Extends, p.ident(e.Tok))
	}
	out.Body = p.convBlockItems(b.Items)
	return out
}

func (p *fileParser) convGlobal(b *pGlobal) *ast.Block {
	return &ast.Block{Pos: astPos(b.Kw.Pos), End: astPos(b.Close.Pos), Kind: ast.GlobalBlock, Body: p.convBlockItems(b.Items)}
}

func (p *fileParser) convBlockItems(items []*pBlockItem) []ast.BlockItem {
	out := make([]ast.BlockItem, 0, len(items))
	for _, it := range items {
		switch {
		case it.Decl != nil:
			d := &ast.Declaration{Pos: astPos(it.Decl.Kw.Pos), Keyword: it.Decl.Kw.Value}
			for _, s := range it.Decl.Names {
				d.Names = append(d.Names, p.str(s.Tok))
			}
			out = append(out, d)
		case it.Rels != nil:
			r := &ast.Relations{Pos: astPos(it.Rels.Kw.Pos)}
			for _, rel := range it.Rels.Rels {
				r.Relations = append(r.Relations, &ast.Relation{Pos: astPos(rel.Name.Pos), Name: p.name(rel.Name), Type: p.ident(rel.Type)})
			}
			out = append(out, r)
		case it.Short != nil:
			out = append(out, p.convShorthand(it.Short))
		}
	}
	return out
}

func (p *fileParser) convShorthand(s *pShorthand) *ast.Shorthand {
	head := p.sname(&s.Head)
	out := &ast.Shorthand{Pos: head.Pos, Head: head}
	if s.Global != nil {
		out.Global = true
		out.Implier = &ast.ShorthandName{Pos: astPos(s.GlobalRole.Pos), Name: unquote(s.GlobalRole.Value), Quoted: true}
		return out
	}
	out.Implier = p.sname(s.Implier)
	if s.On != nil {
		out.On = p.str(*s.On)
	}
	return out
}

func (p *fileParser) sname(n *pSName) *ast.ShorthandName {
	if n.Str != nil {
		return &ast.ShorthandName{Pos: astPos(n.Str.Pos), Name: unquote(n.Str.Value), Quoted: true}
	}
	id := p.name(*n.Ident)
	return &ast.ShorthandName{Pos: id.Pos, Name: id.Name}
}

func (p *fileParser) convDeclare(d *pDeclare) *ast.Declare {
	out := &ast.Declare{Pos: astPos(d.Kw.Pos), Name: p.name(d.Name)}
	for _, t := range d.Types {
		out.Types = append(out.Types, p.ident(t.Tok))
	}
	return out
}

func (p *fileParser) convRule(r *pRule) *ast.Rule {
	out := &ast.Rule{Pos: astPos(r.Head.Name.Pos), End: astPos(r.Semi.Pos), Name: p.name(r.Head.Name)}
	out.Params = make([]*ast.Param, 0, len(r.Head.Args))
	for _, a := range r.Head.Args {
		param := &ast.Param{Pos: astPos(a.Term.pos()), Term: p.term(&a.Term)}
		if a.Type != nil {
			if _, ok := param.Term.(*ast.Var); !ok {
				p.errorf(a.Colon.Pos, "write a variable with a type (x: User, _: User) or a value alone", "only a variable can have a type")
			}
			param.Type = p.ident(*a.Type)
		}
		out.Params = append(out.Params, param)
	}
	if r.Body != nil {
		out.Body = p.and(r.Body)
	}
	return out
}

func (p *fileParser) convTest(t *pTest) *ast.Test {
	out := &ast.Test{Pos: astPos(t.Kw.Pos), End: astPos(t.Close.Pos), Name: p.str(t.Name)}
	for _, it := range t.Items {
		switch {
		case it.Setup != nil:
			if out.Setup != nil {
				p.errorf(it.Setup.Kw.Pos, "merge the two setup blocks", "a test has at most one setup block")
				continue
			}
			s := &ast.Setup{Pos: astPos(it.Setup.Kw.Pos)}
			for _, si := range it.Setup.Items {
				if si.Fixture != nil {
					id := p.name(*si.Fixture)
					s.Fixtures = append(s.Fixtures, id)
					s.Order = append(s.Order, id)
					continue
				}
				c := p.call(si.Fact, false)
				s.Facts = append(s.Facts, c)
				s.Order = append(s.Order, c)
			}
			out.Setup = s
		case it.Assert != nil:
			a := &ast.Assertion{Pos: astPos(it.Assert.Kw.Pos), Negated: it.Assert.Kw.Value == "assert_not", Call: p.call(&it.Assert.Call, true)}
			if iff := it.Assert.Iff; iff != nil {
				a.Iff = &ast.Iff{Pos: astPos(iff.Kw.Pos), Var: p.name(iff.Var), Not: iff.Not, List: p.list(&iff.List)}
			}
			out.Assertions = append(out.Assertions, a)
		}
	}
	return out
}

func (p *fileParser) convFixture(f *pFixture) *ast.Fixture {
	out := &ast.Fixture{Pos: astPos(f.Kw.Pos), End: astPos(f.Close.Pos), Name: p.name(f.Name)}
	for _, c := range f.Facts {
		out.Facts = append(out.Facts, p.call(c, false))
	}
	return out
}

// call converts a call; typed arguments (x: String) are allowed only in
// test assertions.
func (p *fileParser) call(c *pCall, typed bool) *ast.Call {
	out := &ast.Call{Pos: astPos(c.Name.Pos), Name: p.name(c.Name), Args: make([]ast.Term, 0, len(c.Args))}
	for _, a := range c.Args {
		t := p.term(&a.Term)
		if a.Type != nil {
			v, ok := t.(*ast.Var)
			switch {
			case !typed:
				p.errorf(a.Colon.Pos, "types go on the parameters of a rule head (x: User) or the arguments of a test assertion",
					"a type is not allowed here")
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

// and converts a conjunction, flattening nested conjunctions (parentheses
// are not kept in the tree).
func (p *fileParser) and(a *pAnd) ast.Expr {
	if len(a.Exprs) == 1 {
		return p.or(a.Exprs[0])
	}
	out := &ast.And{Exprs: make([]ast.Expr, 0, len(a.Exprs))}
	for _, e := range a.Exprs {
		x := p.or(e)
		if inner, ok := x.(*ast.And); ok {
			out.Exprs = append(out.Exprs, inner.Exprs...)
		} else {
			out.Exprs = append(out.Exprs, x)
		}
	}
	out.Pos = out.Exprs[0].Position()
	return out
}

func (p *fileParser) or(o *pOr) ast.Expr {
	if len(o.Exprs) == 1 {
		return p.not(o.Exprs[0])
	}
	out := &ast.Or{Exprs: make([]ast.Expr, 0, len(o.Exprs))}
	for _, e := range o.Exprs {
		x := p.not(e)
		if inner, ok := x.(*ast.Or); ok {
			out.Exprs = append(out.Exprs, inner.Exprs...)
		} else {
			out.Exprs = append(out.Exprs, x)
		}
	}
	out.Pos = out.Exprs[0].Position()
	return out
}

func (p *fileParser) not(n *pNot) ast.Expr {
	if n.Not != nil {
		return &ast.Not{Pos: astPos(n.Not.Pos), Expr: p.not(n.Expr)}
	}
	a := n.Atom
	switch {
	case a.Paren != nil:
		return p.and(a.Paren)
	case a.Call != nil:
		return p.call(a.Call, false)
	case a.Matches != nil:
		return &ast.Matches{Pos: astPos(a.Left.pos()), Term: p.term(a.Left), Type: p.ident(*a.Matches)}
	}
	return &ast.Binary{Pos: astPos(a.Left.pos()), Op: a.Op.Value, Left: p.term(a.Left), Right: p.term(a.Right)}
}

func (t *pTerm) pos() lexer.Position {
	switch {
	case t.Entity != nil:
		return t.Entity.Type.Pos
	case t.Str != nil:
		return t.Str.Pos
	case t.Int != nil:
		return t.Int.Pos
	case t.Bool != nil:
		return t.Bool.Pos
	case t.Const != nil:
		return t.Const.Pos
	case t.List != nil:
		return t.List.Open.Pos
	case t.Var != nil:
		return t.Var.Pos
	}
	return lexer.Position{}
}

func (p *fileParser) term(t *pTerm) ast.Term {
	switch {
	case t.Entity != nil:
		out := &ast.EntityLit{Pos: astPos(t.Entity.Type.Pos), Type: p.ident(t.Entity.Type), ID: p.term(&t.Entity.ID)}
		switch out.ID.(type) {
		case *ast.StringLit, *ast.IntLit, *ast.BoolLit:
		default:
			p.errorf(t.Entity.ID.pos(), `write the id as a string, an integer or a boolean: User{"alice"}`,
				"the id of %s{...} must be a literal", t.Entity.Type.Value)
		}
		return out
	case t.Str != nil:
		return p.str(*t.Str)
	case t.Int != nil:
		v, err := strconv.ParseInt(t.Int.Value, 10, 64)
		if err != nil {
			p.errorf(t.Int.Pos, "integers are 64-bit signed", "integer %s is out of range", t.Int.Value)
		}
		return &ast.IntLit{Pos: astPos(t.Int.Pos), Value: v}
	case t.Bool != nil:
		return &ast.BoolLit{Pos: astPos(t.Bool.Pos), Value: t.Bool.Value == "true"}
	case t.Const != nil:
		return &ast.ConstRef{Pos: astPos(t.Const.Pos), Name: t.Const.Value[1:]}
	case t.List != nil:
		return p.list(t.List)
	}
	id := p.name(*t.Var)
	return &ast.Var{Pos: id.Pos, Name: id.Name}
}

func (p *fileParser) list(l *pList) *ast.List {
	out := &ast.List{Pos: astPos(l.Open.Pos), Elems: make([]ast.Term, 0, len(l.Elems))}
	for _, e := range l.Elems {
		out.Elems = append(out.Elems, p.term(e))
	}
	return out
}
