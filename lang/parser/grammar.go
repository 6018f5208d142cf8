package parser

import (
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// The participle grammar. One parser per kind of top-level item: Parse
// splits a file into items itself (so that one broken item does not hide the
// errors in the next) and hands each item's tokens to the matching parser.
//
// Participle parses the structure of blocks, declarations, tests and
// fixtures. The parts that make up most of a policy's tokens are parsed by
// hand and plugged in through participle's Parseable interface: block
// bodies (block.go) and the expression language of rule bodies, arguments
// and lists (expr.go); rule items, which are nothing but expression
// language, skip participle altogether (exprParser.rule). Participle's
// reflective parsing allocates a context per alternative it tries, which
// made a 2,000-rule policy cost about 100 MB to parse; it now costs 13 MB.
//
// The grammar is LL(1) and participle runs with no lookahead, so a
// production commits as soon as it has consumed a token and a syntax error
// points at the token that is actually wrong. To stay LL(1) a test item is
// `word { ... }` or `word call ...;`, and convert.go checks the word. These
// structs never leave the package.

type pBlock struct {
	Kind    lexer.Token `parser:"@('actor' | 'resource')"`
	Name    lexer.Token `parser:"@Ident"`
	Extends []*pName    `parser:"('extends' @@+)?"`
	Body    pBlockBody  `parser:"'{' @@"`
	Close   lexer.Token `parser:"@'}'"`
}

type pGlobal struct {
	Kw    lexer.Token `parser:"@'global'"`
	Body  pBlockBody  `parser:"'{' @@"`
	Close lexer.Token `parser:"@'}'"`
}

type pName struct {
	Tok   lexer.Token  `parser:"@Ident"`
	Comma *lexer.Token `parser:"@','?"`
}

// pRule is a rule item. Rules are parsed by hand (exprParser.rule in
// expr.go), not by participle; the struct only carries the result to
// convert.go.
type pRule struct {
	Head pCall
	Body ast.Expr // nil without `if`
	Semi lexer.Token
}

type pDeclare struct {
	Kw    lexer.Token `parser:"@'declare'"`
	Name  lexer.Token `parser:"@Ident '('"`
	Types []*pName    `parser:"@@* ')' ';'"`
}

type pTest struct {
	Kw    lexer.Token  `parser:"@'test'"`
	Name  lexer.Token  `parser:"@String '{'"`
	Items []*pTestItem `parser:"@@*"`
	Close lexer.Token  `parser:"@'}'"`
}

// pTestItem is `setup { ... }` or `assert[_not] call [iff ...];`.
type pTestItem struct {
	Kw    lexer.Token   `parser:"@Ident"`
	Open  *lexer.Token  `parser:"( @'{'"`
	Setup []*pSetupItem `parser:"  @@* '}'"`
	Call  *pCall        `parser:"| @@"`
	Iff   *pIff         `parser:"  @@? ';' )"`
}

// pSetupItem is `fixture name;` or a fact `name(args);`.
type pSetupItem struct {
	Name    lexer.Token  `parser:"@Ident"`
	Fixture *lexer.Token `parser:"( @Ident"`
	Args    *pArgs       `parser:"| @@ ) ';'"`
}

type pFixture struct {
	Kw    lexer.Token `parser:"@'test' 'fixture'"`
	Name  lexer.Token `parser:"@Ident '{'"`
	Facts []*pCall    `parser:"(@@ ';')*"`
	Close lexer.Token `parser:"@'}'"`
}

type pIff struct {
	Kw   lexer.Token `parser:"@'iff'"`
	Var  lexer.Token `parser:"@Ident"`
	Not  bool        `parser:"@'not'? 'in'"`
	List pList       `parser:"@@"`
}

type pCall struct {
	Name lexer.Token `parser:"@Ident"`
	Args pArgs       `parser:"@@"`
}

// pArgs and pList, the expression language, are parsed by hand: see
// expr.go.

// grammar holds one participle parser per kind of top-level item but
// rules. It is
// built once (participle.Build reflects over the structs) and is safe for
// concurrent use.
type grammar struct {
	block   *participle.Parser[pBlock]
	global  *participle.Parser[pGlobal]
	declare *participle.Parser[pDeclare]
	test    *participle.Parser[pTest]
	fixture *participle.Parser[pFixture]
}

func build[G any]() (*participle.Parser[G], error) {
	// No lookahead: the grammar is LL(1), and committing early gives errors
	// at the right token.
	return participle.Build[G](participle.Lexer(definition{}), participle.UseLookahead(0))
}

// loadGrammar builds the parsers on first use.
var loadGrammar = sync.OnceValues(func() (*grammar, error) {
	var (
		g   grammar
		err error
	)
	if g.block, err = build[pBlock](); err != nil {
		return nil, err
	}
	if g.global, err = build[pGlobal](); err != nil {
		return nil, err
	}
	if g.declare, err = build[pDeclare](); err != nil {
		return nil, err
	}
	if g.test, err = build[pTest](); err != nil {
		return nil, err
	}
	if g.fixture, err = build[pFixture](); err != nil {
		return nil, err
	}
	return &g, nil
})
