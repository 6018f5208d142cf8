package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// The expression language (rule bodies, call arguments, terms and lists)
// is parsed by hand, through participle's Parseable interface: these are
// most of the tokens of a policy, and participle's reflective parsing
// allocates a branch context per alternative tried, which made parsing a
// 2,000-rule policy cost some 100 MB. The productions are the same as in
// the grammar comment below; precedence, loosest first, is
// and < or < not < comparison.
//
//	body  = or { "and" or }
//	or    = not { "or" not }
//	not   = "not" not | atom
//	atom  = "(" body ")" | term [ cmp term | "matches" Type ]   (a bare term must be a call)
//	term  = name [ "(" args ")" | "{" term "}" ] | string | int | bool | @const | list
//	args  = [ arg { "," arg } [ "," ] ]  arg = term [ ":" Type ]
//	list  = "[" [ term { "," term } [ "," ] ] "]"

// rule parses a rule item: `name(args) [if body];`. Rules are most of a
// large policy and their grammar is all expression language, so they are
// parsed by hand straight from the item's tokens; this halves the time and
// memory Parse takes on a 2,000-rule policy.
func (e *exprParser) rule() (*pRule, error) {
	name := e.lex.Next() // an Ident: the caller dispatched on it
	if !isPunct(e.lex.Peek(), "(") {
		return nil, e.fail("'('")
	}
	r := &pRule{Head: pCall{Name: *name, Args: pArgs{open: *e.lex.Next()}}}
	args, err := e.args()
	if err != nil {
		return nil, err
	}
	r.Head.Args.args = args
	if isWord(e.lex.Peek(), "if") {
		e.lex.Next()
		body, err := e.and()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	if !isPunct(e.lex.Peek(), ";") {
		if r.Body == nil {
			return nil, e.fail("'if'", "';'")
		}
		return nil, e.fail("';'")
	}
	r.Semi = *e.lex.Next()
	if t := e.lex.Peek(); t.Type != tokEnd {
		return nil, e.fail()
	}
	return r, nil
}

// pImplier is what follows `if` in a shorthand rule: an unquoted role or
// permission name with an optional `on "relation"`, or a condition. A
// condition is a quoted role or permission (with an optional `on
// "relation"`), `global "role"`, a call such as `is_public(resource)`, or
// these joined with and, or, not and parentheses; a condition that is a
// lone role or permission is turned back into a plain implier by
// shorthand. An unquoted name is told from a condition by the token after
// it (`;` or `on` for a name).
type pImplier struct {
	name *lexer.Token // an Ident
	on   *lexer.Token
	cond ast.Expr
}

func (im *pImplier) parse(e *exprParser) error {
	t := e.lex.Peek()
	var second *lexer.Token
	if t.Type == tokIdent {
		second = e.lex.Peek2()
	}
	switch {
	case t.Type == tokIdent && second.Type == tokString && t.Value != "global":
		{
			hint := `an implier is one name: "owner", or global "admin"`
			if nearest(t.Value, []string{"global"}) != "" {
				hint = "did you mean 'global'?"
			}
			e.lex.Next()
			return &expectError{tok: *second, expected: []string{"';'"}, hint: hint}
		}
	case t.Type == tokIdent && (isPunct(second, ";") || second.Type == tokIdent && second.Value == "on"):
		im.name = e.lex.Next()
		if on := e.lex.Peek(); on.Type == tokIdent && on.Value == "on" {
			e.lex.Next()
			if e.lex.Peek().Type != tokString {
				return e.fail("a string")
			}
			im.on = e.lex.Next()
		}
	default:
		e.inShorthand = true
		cond, err := e.and()
		e.inShorthand = false
		if err != nil {
			return err
		}
		im.cond = cond
	}
	return nil
}

// pArgs is the parenthesised argument list of a call, rule head, fact or
// assertion. Which arguments may carry a type is checked by convert.go.
type pArgs struct {
	open lexer.Token
	args []arg
	errs ast.ErrorList
}

// arg is one argument with its optional `: Type`.
type arg struct {
	term  ast.Term
	colon *lexer.Token
	typ   *lexer.Token
}

// Parse implements participle.Parseable.
func (a *pArgs) Parse(lex *lexer.PeekingLexer) error {
	if !isPunct(lex.Peek(), "(") {
		return &expectError{tok: *lex.Peek(), expected: []string{"'('"}}
	}
	e := exprParser{lex: peeking{lex}}
	a.open = *lex.Next()
	args, err := e.args()
	if err != nil {
		return err
	}
	a.args, a.errs = args, e.errs
	return nil
}

// pList is a list literal where the grammar wants one (the list of an `iff`
// and of a roles or permissions declaration).
type pList struct {
	list *ast.List
	errs ast.ErrorList
}

// Parse implements participle.Parseable.
func (l *pList) Parse(lex *lexer.PeekingLexer) error {
	if !isPunct(lex.Peek(), "[") {
		return &expectError{tok: *lex.Peek(), expected: []string{"'['"}}
	}
	e := exprParser{lex: peeking{lex}}
	list, err := e.list()
	if err != nil {
		return err
	}
	l.list, l.errs = list, e.errs
	return nil
}

// expectError is a syntax error at tok, saying what could have come instead.
type expectError struct {
	tok      lexer.Token
	expected []string
	hint     string // overrides the hint syntaxError would give
}

func (e *expectError) Error() string { return e.tok.Pos.String() + ": " + e.Message() }

// Message implements participle.Error.
func (e *expectError) Message() string {
	return fmt.Sprintf("unexpected %s; expected %s", describe(e.tok), strings.Join(e.expected, " or "))
}

// Position implements participle.Error.
func (e *expectError) Position() lexer.Position { return e.tok.Pos }

// exprParser parses the expression language from participle's lexer.
// Syntax errors stop it (returned as *expectError); errors that leave the
// structure clear (a call used as a value, a missing ',', an integer out of
// range) are collected in errs and parsing goes on.
type exprParser struct {
	lex   tokenStream
	errs  ast.ErrorList
	nodes *nodes // nil outside a fileParser's own paths
	// inShorthand is set inside the condition of a shorthand rule, where a
	// quoted string is a role or permission (see shorthandRef).
	inShorthand bool
}

// tokenStream is what exprParser reads: participle's PeekingLexer, or a
// cursor over an item's tokens.
type tokenStream interface {
	Peek() *lexer.Token
	Peek2() *lexer.Token // the token after Peek's
	Next() *lexer.Token
}

// peeking adapts participle's PeekingLexer to tokenStream.
type peeking struct{ *lexer.PeekingLexer }

func (p peeking) Peek2() *lexer.Token {
	cp := p.MakeCheckpoint()
	p.Next()
	t := p.Peek()
	p.LoadCheckpoint(cp)
	return t
}

// cursor reads the tokens of one item, then returns its end token forever.
type cursor struct {
	toks []lexer.Token
	i    int
	end  lexer.Token
}

func (c *cursor) Peek() *lexer.Token {
	if c.i < len(c.toks) {
		return &c.toks[c.i]
	}
	return &c.end
}

func (c *cursor) Peek2() *lexer.Token {
	if c.i+1 < len(c.toks) {
		return &c.toks[c.i+1]
	}
	return &c.end
}

func (c *cursor) Next() *lexer.Token {
	t := c.Peek()
	if c.i < len(c.toks) {
		c.i++
	}
	return t
}

func (e *exprParser) report(pos lexer.Position, hint, format string, args ...any) {
	e.errs.Add(astPos(pos), fmt.Sprintf(format, args...), hint)
}

func (e *exprParser) fail(expected ...string) error {
	return &expectError{tok: *e.lex.Peek(), expected: expected}
}

func isPunct(t *lexer.Token, v string) bool { return t.Type == tokPunct && t.Value == v }
func isWord(t *lexer.Token, v string) bool  { return t.Type == tokKeyword && t.Value == v }

func (e *exprParser) and() (ast.Expr, error) {
	x, err := e.or()
	if err != nil || !isWord(e.lex.Peek(), "and") {
		return x, err
	}
	out := &ast.And{Pos: x.Position(), Exprs: make([]ast.Expr, 0, 4)}
	out.Exprs = appendFlat[*ast.And](out.Exprs, x)
	for isWord(e.lex.Peek(), "and") {
		e.lex.Next()
		y, err := e.or()
		if err != nil {
			return nil, err
		}
		out.Exprs = appendFlat[*ast.And](out.Exprs, y)
	}
	return out, nil
}

func (e *exprParser) or() (ast.Expr, error) {
	x, err := e.not()
	if err != nil || !isWord(e.lex.Peek(), "or") {
		return x, err
	}
	out := &ast.Or{Pos: x.Position(), Exprs: make([]ast.Expr, 0, 4)}
	out.Exprs = appendFlat[*ast.Or](out.Exprs, x)
	for isWord(e.lex.Peek(), "or") {
		e.lex.Next()
		y, err := e.not()
		if err != nil {
			return nil, err
		}
		out.Exprs = appendFlat[*ast.Or](out.Exprs, y)
	}
	return out, nil
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

func (e *exprParser) not() (ast.Expr, error) {
	if t := e.lex.Peek(); isWord(t, "not") {
		e.lex.Next()
		x, err := e.not()
		if err != nil {
			return nil, err
		}
		return &ast.Not{Pos: astPos(t.Pos), Expr: x}, nil
	}
	return e.atom()
}

// shorthandRef parses a role or permission inside a shorthand condition:
// `"member"`, `"member" on "parent"` or `global "admin"`. ok is false, and
// nothing is consumed, when the next tokens are not one (a string compared
// with `=` is a term).
func (e *exprParser) shorthandRef() (ref *ast.ShorthandRef, ok bool, err error) {
	t, second := e.lex.Peek(), e.lex.Peek2()
	switch {
	case t.Type == tokIdent && t.Value == "global" && second.Type == tokString:
		e.lex.Next()
		name := e.lex.Next()
		ref = e.nodes.shorthandRef()
		ref.Pos, ref.Global, ref.Name = astPos(t.Pos), true, e.shorthandName(name)
		if on := e.lex.Peek(); on.Type == tokIdent && on.Value == "on" {
			e.report(on.Pos, "a global role is not on a relation", "unexpected 'on' after a global role")
			e.lex.Next()
			if e.lex.Peek().Type == tokString {
				e.lex.Next()
			}
		}
		return ref, true, nil
	case t.Type == tokString && !isComparisonTok(second) && !isWord(second, "matches"):
		e.lex.Next()
		ref = e.nodes.shorthandRef()
		ref.Pos, ref.Name = astPos(t.Pos), e.shorthandName(t)
		if on := e.lex.Peek(); on.Type == tokIdent && on.Value == "on" {
			e.lex.Next()
			if e.lex.Peek().Type != tokString {
				return nil, true, e.fail("a string")
			}
			rel := e.lex.Next()
			ref.On = e.nodes.str(rel)
		}
		return ref, true, nil
	}
	return nil, false, nil
}

func isComparisonTok(t *lexer.Token) bool {
	return t.Type == tokPunct && isComparison(t.Value) || isWord(t, "in")
}

func (e *exprParser) atom() (ast.Expr, error) {
	t := e.lex.Peek()
	if e.inShorthand {
		if ref, ok, err := e.shorthandRef(); ok || err != nil {
			return ref, err
		}
	}
	if isPunct(t, "(") {
		e.lex.Next()
		x, err := e.and()
		if err != nil {
			return nil, err
		}
		if !isPunct(e.lex.Peek(), ")") {
			return nil, e.fail("')'")
		}
		e.lex.Next()
		return x, nil
	}
	if !startsTerm(t) {
		return nil, e.fail("a condition")
	}
	left, call, err := e.termOrCall()
	if err != nil {
		return nil, err
	}
	switch op := e.lex.Peek(); {
	case isComparisonTok(op):
		e.lex.Next()
		right, err := e.term()
		if err != nil {
			return nil, err
		}
		if call != nil {
			e.callAsValue(call)
			left = placeholder(call)
		}
		return &ast.Binary{Pos: astPos(t.Pos), Op: op.Value, Left: left, Right: right}, nil
	case isWord(op, "matches"):
		e.lex.Next()
		typ := e.lex.Peek()
		if typ.Type != tokIdent {
			return nil, e.fail("a type name")
		}
		e.lex.Next()
		if call != nil {
			e.callAsValue(call)
			left = placeholder(call)
		}
		return &ast.Matches{Pos: astPos(t.Pos), Term: left, Type: e.nodes.ident(typ)}, nil
	}
	if call != nil {
		return call, nil
	}
	e.report(t.Pos, "a condition is a call such as f(x), a comparison such as x = 1, or x matches Type",
		"%s is not a condition", describeTerm(left))
	return &ast.Call{Pos: astPos(t.Pos), Name: &ast.Ident{Pos: astPos(t.Pos)}}, nil
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

func (e *exprParser) callAsValue(c *ast.Call) {
	e.errs.Add(c.Pos, fmt.Sprintf("a call to %s cannot be used as a value", c.Name.Name),
		"a call is a condition: write it on its own, joined with 'and'")
}

func startsTerm(t *lexer.Token) bool {
	switch t.Type {
	case tokIdent, tokString, tokInt, tokConst:
		return true
	case tokKeyword:
		return t.Value == "true" || t.Value == "false"
	}
	return isPunct(t, "[")
}

// term parses a term; a call in its place is reported and read as a
// variable so that parsing can go on.
func (e *exprParser) term() (ast.Term, error) {
	t, call, err := e.termOrCall()
	if call != nil {
		e.callAsValue(call)
		t = placeholder(call)
	}
	return t, err
}

// placeholder is the variable that stands for a call used as a value.
func placeholder(call *ast.Call) ast.Term { return &ast.Var{Pos: call.Pos, Name: call.Name.Name} }

// termOrCall parses a term, or a call when a name is followed by '('; the
// call is then returned instead, and the term is nil (see placeholder).
func (e *exprParser) termOrCall() (ast.Term, *ast.Call, error) {
	t := e.lex.Peek()
	switch t.Type {
	case tokIdent:
		e.lex.Next()
		switch next := e.lex.Peek(); {
		case isPunct(next, "("):
			e.lex.Next()
			args, err := e.args()
			if err != nil {
				return nil, nil, err
			}
			call := &ast.Call{Pos: astPos(t.Pos), Name: e.name(t), Args: make([]ast.Term, len(args))}
			for i, a := range args {
				call.Args[i] = a.term
				if a.colon != nil {
					e.report(a.colon.Pos, "types go on the parameters of a rule head (x: User) or the arguments of a test assertion",
						"a type is not allowed here")
				}
			}
			return nil, call, nil
		case isPunct(next, "{"):
			e.lex.Next()
			id, err := e.term()
			if err != nil {
				return nil, nil, err
			}
			if !isPunct(e.lex.Peek(), "}") {
				return nil, nil, e.fail("'}'")
			}
			e.lex.Next()
			switch id.(type) {
			case *ast.StringLit, *ast.IntLit, *ast.BoolLit:
			default:
				e.errs.Add(id.Position(), fmt.Sprintf("the id of %s{...} must be a literal", t.Value),
					`write the id as a string, an integer or a boolean: User{"alice"}`)
			}
			return &ast.EntityLit{Pos: astPos(t.Pos), Type: e.nodes.ident(t), ID: id}, nil, nil
		}
		e.checkName(t)
		return e.nodes.variable(t), nil, nil
	case tokString:
		e.lex.Next()
		return e.nodes.str(t), nil, nil
	case tokInt:
		e.lex.Next()
		v, err := strconv.ParseInt(t.Value, 10, 64)
		if err != nil {
			e.report(t.Pos, "integers are 64-bit signed", "integer %s is out of range", t.Value)
		}
		return &ast.IntLit{Pos: astPos(t.Pos), Value: v}, nil, nil
	case tokConst:
		e.lex.Next()
		return &ast.ConstRef{Pos: astPos(t.Pos), Name: t.Value[1:]}, nil, nil
	case tokKeyword:
		if t.Value == "true" || t.Value == "false" {
			e.lex.Next()
			return &ast.BoolLit{Pos: astPos(t.Pos), Value: t.Value == "true"}, nil, nil
		}
	case tokPunct:
		if t.Value == "[" {
			l, err := e.list()
			return l, nil, err
		}
	}
	return nil, nil, e.fail("a value")
}

// name checks a name that is not a type: '::' is only for type names.
func (e *exprParser) name(t *lexer.Token) *ast.Ident {
	e.checkName(t)
	return e.nodes.ident(t)
}

// checkName reports a name that is not a type and holds '::'.
func (e *exprParser) checkName(t *lexer.Token) {
	if strings.Contains(t.Value, "::") {
		e.report(t.Pos, "only type names may contain '::'", "invalid name %q", t.Value)
	}
}

// args parses the arguments of a call after its '(' up to and including
// the ')'.
func (e *exprParser) args() ([]arg, error) {
	var out []arg
	for !isPunct(e.lex.Peek(), ")") {
		if len(out) > 0 {
			if t := e.lex.Peek(); isPunct(t, ",") {
				e.lex.Next()
				if isPunct(e.lex.Peek(), ")") {
					break // a trailing ',', as Oso's own grammar allows
				}
			} else if startsTerm(t) {
				e.report(t.Pos, "separate the elements with ','", "missing ','")
			} else {
				return nil, e.fail("','", "')'")
			}
		}
		if !startsTerm(e.lex.Peek()) {
			if len(out) == 0 {
				return nil, e.fail("an argument", "')'")
			}
			return nil, e.fail("an argument")
		}
		t, err := e.term()
		if err != nil {
			return nil, err
		}
		a := arg{term: t}
		if c := e.lex.Peek(); isPunct(c, ":") {
			a.colon = e.lex.Next()
			typ := e.lex.Peek()
			if typ.Type != tokIdent {
				return nil, e.fail("a type name")
			}
			a.typ = e.lex.Next()
		}
		if out == nil {
			out = make([]arg, 0, 4)
		}
		out = append(out, a)
	}
	e.lex.Next() // ')'
	return out, nil
}

// list parses `[t, ...]`; a trailing ',' is allowed.
func (e *exprParser) list() (*ast.List, error) {
	open := e.lex.Next() // '['
	out := &ast.List{Pos: astPos(open.Pos)}
	for !isPunct(e.lex.Peek(), "]") {
		if len(out.Elems) > 0 {
			if t := e.lex.Peek(); isPunct(t, ",") {
				e.lex.Next()
				if isPunct(e.lex.Peek(), "]") {
					break
				}
			} else if startsTerm(t) {
				e.report(t.Pos, "separate the elements with ','", "missing ','")
			} else {
				return nil, e.fail("','", "']'")
			}
		}
		t, err := e.term()
		if err != nil {
			return nil, err
		}
		if out.Elems == nil {
			out.Elems = make([]ast.Term, 0, 8)
		}
		out.Elems = append(out.Elems, t)
	}
	e.lex.Next() // ']'
	return out, nil
}
