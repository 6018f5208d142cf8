package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// This file turns participle's parse structs into ast nodes and reports
// what the LL(1) grammar lets through but Polar does not: a misspelt test
// keyword, a type where none may be, a missing ',', '::' in a name, ...
// The hand-parsed parts (block.go, expr.go) build ast nodes themselves.

func (p *fileParser) ident(t lexer.Token) *ast.Ident {
	return p.nodes.ident(&t)
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
	p.commas(len(b.Extends), func(i int) *lexer.Token { return b.Extends[i].Comma },
		func(i int) lexer.Position { return b.Extends[i].Tok.Pos }, false)
	for _, e := range b.Extends {
		out.Extends = append(out.Extends, p.ident(e.Tok))
	}
	out.Body = p.convBlockBody(&b.Body)
	return out
}

func (p *fileParser) convGlobal(b *pGlobal) *ast.Block {
	return &ast.Block{Pos: astPos(b.Kw.Pos), End: astPos(b.Close.Pos), Kind: ast.GlobalBlock, Body: p.convBlockBody(&b.Body)}
}

func (p *fileParser) convBlockBody(b *pBlockBody) []ast.BlockItem {
	for _, err := range b.syntax {
		p.syntaxError(p.cur, err, blockWords)
	}
	p.errs = append(p.errs, b.errs...)
	return b.items
}

func (p *fileParser) convDeclare(d *pDeclare) *ast.Declare {
	out := &ast.Declare{Pos: astPos(d.Kw.Pos), Name: p.name(d.Name)}
	p.commas(len(d.Types), func(i int) *lexer.Token { return d.Types[i].Comma },
		func(i int) lexer.Position { return d.Types[i].Tok.Pos }, true)
	for _, t := range d.Types {
		out.Types = append(out.Types, p.ident(t.Tok))
	}
	return out
}

func (p *fileParser) convRule(r *pRule) *ast.Rule {
	out := &ast.Rule{Pos: astPos(r.Head.Name.Pos), End: astPos(r.Semi.Pos), Name: p.name(r.Head.Name)}
	p.errs = append(p.errs, r.Head.Args.errs...)
	out.Params = make([]*ast.Param, 0, len(r.Head.Args.args))
	for _, a := range r.Head.Args.args {
		param := p.nodes.param()
		param.Pos, param.Term = a.term.Position(), a.term
		if a.typ != nil {
			if _, ok := a.term.(*ast.Var); !ok {
				p.errorf(a.colon.Pos, "write a variable with a type (x: User, _: User) or a value alone", "only a variable can have a type")
			}
			param.Type = p.ident(*a.typ)
		}
		out.Params = append(out.Params, param)
	}
	out.Body = r.Body
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

// call converts a call; typed arguments (x: String) are allowed only in
// test assertions.
func (p *fileParser) call(c *pCall, typed bool) *ast.Call {
	p.errs = append(p.errs, c.Args.errs...)
	out := &ast.Call{Pos: astPos(c.Name.Pos), Name: p.name(c.Name), Args: make([]ast.Term, 0, len(c.Args.args))}
	for _, a := range c.Args.args {
		t := a.term
		if a.typ != nil {
			v, ok := t.(*ast.Var)
			switch {
			case !typed:
				p.errorf(a.colon.Pos, "types go on the parameters of a rule head (x: User) or the arguments of a test assertion",
					"a type is not allowed here")
			case !ok:
				p.errorf(a.colon.Pos, "write a variable with a type (x: String, _: User) or a value alone", "only a variable can have a type")
			default:
				t = &ast.TypedVar{Pos: v.Pos, Name: v.Name, Type: p.ident(*a.typ)}
			}
		}
		out.Args = append(out.Args, t)
	}
	return out
}

func (p *fileParser) list(l *pList) *ast.List {
	p.errs = append(p.errs, l.errs...)
	return l.list
}
