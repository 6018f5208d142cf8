package parser

import (
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// pBlockBody is the inside of an actor, resource or global block, up to but
// not including its '}'. Participle parses the block around it; the items
// are parsed by hand because a large policy is mostly block items and
// participle's reflective parsing allocates per alternative tried.
//
//	item     = name "=" ( list | "{" [ relation { "," relation } [ "," ] ] "}" ) ";"
//	         | name "if" implier ";"
//	relation = name ":" Type
//	name     = string | identifier
//
// The name before "=" must be roles, permissions or relations; see
// pImplier for what follows "if".
type pBlockBody struct {
	items  []ast.BlockItem
	errs   ast.ErrorList
	syntax []error // syntax errors of items it skipped, for syntaxError
}

var blockKeywords = []string{"roles", "permissions", "relations"}

// Parse implements participle.Parseable.
func (b *pBlockBody) Parse(lex *lexer.PeekingLexer) error {
	return b.parse(&exprParser{lex: peeking{lex}})
}

// parse parses the items of a block body from e's token stream, up to the
// '}' that ends the block.
func (b *pBlockBody) parse(e *exprParser) error {
	lex := e.lex
	for !isPunct(lex.Peek(), "}") {
		if err := b.item(e); err != nil {
			// Report the error and go on after the item's ';', so that
			// two broken items in a block give two errors. An error at
			// the block's '}' or past it ends the block.
			t := lex.Peek()
			if isPunct(t, "}") || t.Type == tokEnd || t.EOF() {
				return err
			}
			b.syntax = append(b.syntax, err)
			skipItem(lex)
		}
	}
	b.errs = e.errs
	return nil
}

// item parses one block item, with its ';'.
func (b *pBlockBody) item(e *exprParser) error {
	head := e.lex.Peek()
	if head.Type != tokString && head.Type != tokIdent {
		return e.fail("'}'")
	}
	e.lex.Next()
	switch t := e.lex.Peek(); {
	case isPunct(t, "="):
		e.lex.Next()
		item, err := e.declaration(head)
		if err != nil {
			return err
		}
		if item != nil {
			b.items = append(b.items, item)
		}
	case isWord(t, "if"):
		e.lex.Next()
		var im pImplier
		if err := im.parse(e); err != nil {
			return err
		}
		b.items = append(b.items, e.shorthand(head, &im))
	default:
		return e.fail("'if'", "'='")
	}
	if t := e.lex.Peek(); !isPunct(t, ";") {
		err := e.fail("';'")
		if (t.Type == tokString || t.Type == tokIdent) && t.Pos.Line > head.Pos.Line {
			// The ';' at the end of a line is missing and the next line
			// starts the next item: report it and carry on from there.
			b.syntax = append(b.syntax, err)
			return nil
		}
		return err
	}
	e.lex.Next()
	return nil
}

// skipItem moves past the ';' that ends the current block item, or up to
// the '}' that ends the block.
func skipItem(lex tokenStream) {
	depth := 0
	for {
		t := lex.Peek()
		switch {
		case t.Type == tokEnd || t.EOF():
			return
		case isPunct(t, "(") || isPunct(t, "[") || isPunct(t, "{"):
			depth++
		case isPunct(t, ")") || isPunct(t, "]"):
			depth = max(depth-1, 0)
		case isPunct(t, "}"):
			if depth == 0 {
				return
			}
			depth--
		case isPunct(t, ";") && depth == 0:
			lex.Next()
			return
		}
		lex.Next()
	}
}

// declaration parses what follows `name =` in a block. It returns nil
// (having reported why) when the declaration is not one Polar has.
func (e *exprParser) declaration(head *lexer.Token) (ast.BlockItem, error) {
	kw := head.Value
	known := head.Type == tokIdent && contains(blockKeywords, kw)
	if !known {
		hint := "a block declares roles, permissions or relations"
		if near := nearest(kw, blockKeywords); near != "" && head.Type == tokIdent {
			hint = "did you mean '" + near + "'?"
		}
		e.report(head.Pos, hint, "unknown declaration %s", describe(*head))
	}
	switch t := e.lex.Peek(); {
	case isPunct(t, "["):
		list, err := e.list()
		if err != nil || !known {
			return nil, err
		}
		if kw == "relations" {
			e.report(t.Pos, "write relations = { parent: Organization };", "relations are declared with { name: Type, ... }")
			return nil, nil
		}
		d := &ast.Declaration{Pos: astPos(head.Pos), Keyword: kw, Names: make([]*ast.StringLit, 0, len(list.Elems))}
		for _, x := range list.Elems {
			s, ok := x.(*ast.StringLit)
			if !ok {
				e.errs.Add(x.Position(), kw+" are strings", `quote the name: "viewer"`)
				continue
			}
			d.Names = append(d.Names, s)
		}
		return d, nil
	case isPunct(t, "{"):
		rels, err := e.relations()
		if err != nil || !known {
			return nil, err
		}
		if kw != "relations" {
			e.report(t.Pos, "write "+kw+` = ["a", "b"];`, "%s are declared with a list of strings", kw)
			return nil, nil
		}
		rels.Pos = astPos(head.Pos)
		return rels, nil
	}
	return nil, e.fail("'['", "'{'")
}

// relations parses `{ name: Type, ... }`; a trailing ',' is allowed.
func (e *exprParser) relations() (*ast.Relations, error) {
	e.lex.Next() // '{'
	out := &ast.Relations{}
	for !isPunct(e.lex.Peek(), "}") {
		if len(out.Relations) > 0 {
			if t := e.lex.Peek(); isPunct(t, ",") {
				e.lex.Next()
				if isPunct(e.lex.Peek(), "}") {
					break
				}
			} else if t.Type == tokIdent {
				e.report(t.Pos, "separate the elements with ','", "missing ','")
			} else {
				return nil, e.fail("','", "'}'")
			}
		}
		name := e.lex.Peek()
		if name.Type != tokIdent {
			return nil, e.fail("a relation name")
		}
		e.lex.Next()
		if !isPunct(e.lex.Peek(), ":") {
			return nil, e.fail("':'")
		}
		e.lex.Next()
		typ := e.lex.Peek()
		if typ.Type != tokIdent {
			return nil, e.fail("a type name")
		}
		e.lex.Next()
		out.Relations = append(out.Relations, &ast.Relation{Pos: astPos(name.Pos), Name: e.name(name), Type: e.nodes.ident(typ)})
	}
	e.lex.Next() // '}'
	return out, nil
}

// shorthand builds a shorthand rule from its head and what followed `if`.
func (e *exprParser) shorthand(head *lexer.Token, im *pImplier) *ast.Shorthand {
	out := e.nodes.shorthand()
	out.Pos, out.Head = astPos(head.Pos), e.shorthandName(head)
	switch ref, lone := im.cond.(*ast.ShorthandRef); {
	case lone:
		// `"X" if "Y";`, `"X" if "Y" on "rel";`, `"X" if global "Y";`
		out.Implier, out.Global, out.On = ref.Name, ref.Global, ref.On
	case im.cond != nil:
		out.Cond = im.cond
	default:
		out.Implier = e.shorthandName(im.name)
		if im.on != nil {
			out.On = e.nodes.str(im.on)
		}
	}
	return out
}

func (e *exprParser) shorthandName(t *lexer.Token) *ast.ShorthandName {
	if t.Type == tokString {
		return e.nodes.shorthandName(astPos(t.Pos), unquote(t.Value), true)
	}
	e.checkName(t)
	return e.nodes.shorthandName(astPos(t.Pos), t.Value, false)
}
