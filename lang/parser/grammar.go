package parser

import (
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The participle grammar. One parser per kind of top-level item: Parse
// splits a file into items itself (so that one broken item does not hide the
// errors in the next) and hands each item's tokens to the matching parser.
// These structs never leave the package; convert.go turns them into ast
// nodes.

type pBlock struct {
	Kind    lexer.Token   `parser:"@('actor' | 'resource')"`
	Name    lexer.Token   `parser:"@Ident"`
	Extends []*pName      `parser:"('extends' @@ (',' @@)*)?"`
	Items   []*pBlockItem `parser:"'{' @@*"`
	Close   lexer.Token   `parser:"@'}'"`
}

type pGlobal struct {
	Kw    lexer.Token   `parser:"@'global'"`
	Items []*pBlockItem `parser:"'{' @@*"`
	Close lexer.Token   `parser:"@'}'"`
}

type pName struct {
	Tok lexer.Token `parser:"@Ident"`
}

type pString struct {
	Tok lexer.Token `parser:"@String"`
}

type pBlockItem struct {
	Decl  *pDecl      `parser:"  @@"`
	Rels  *pRelations `parser:"| @@"`
	Short *pShorthand `parser:"| @@"`
}

type pDecl struct {
	Kw    lexer.Token `parser:"@('roles' | 'permissions') '='"`
	Names []*pString  `parser:"'[' (@@ (',' @@)* ','?)? ']' ';'"`
}

type pRelations struct {
	Kw   lexer.Token  `parser:"@'relations' '=' '{'"`
	Rels []*pRelation `parser:"(@@ (',' @@)* ','?)? '}' ';'"`
}

type pRelation struct {
	Name lexer.Token `parser:"@Ident ':'"`
	Type lexer.Token `parser:"@Ident"`
}

type pShorthand struct {
	Head       pSName       `parser:"@@ 'if'"`
	Global     *lexer.Token `parser:"( @'global'"`
	GlobalRole *lexer.Token `parser:"  @String"`
	Implier    *pSName      `parser:"| @@"`
	On         *lexer.Token `parser:"  ('on' @String)? ) ';'"`
}

type pSName struct {
	Str   *lexer.Token `parser:"  @String"`
	Ident *lexer.Token `parser:"| @Ident"`
}

type pRule struct {
	Head pCall       `parser:"@@"`
	Body *pAnd       `parser:"('if' @@)?"`
	Semi lexer.Token `parser:"@';'"`
}

type pDeclare struct {
	Kw    lexer.Token `parser:"@'declare'"`
	Name  lexer.Token `parser:"@Ident '('"`
	Types []*pName    `parser:"(@@ (',' @@)*)? ')' ';'"`
}

type pTest struct {
	Kw    lexer.Token  `parser:"@'test'"`
	Name  lexer.Token  `parser:"@String '{'"`
	Items []*pTestItem `parser:"@@*"`
	Close lexer.Token  `parser:"@'}'"`
}

type pTestItem struct {
	Setup  *pSetup  `parser:"  @@"`
	Assert *pAssert `parser:"| @@"`
}

type pSetup struct {
	Kw    lexer.Token   `parser:"@'setup' '{'"`
	Items []*pSetupItem `parser:"@@* '}'"`
}

type pSetupItem struct {
	Fixture *lexer.Token `parser:"( 'fixture' @Ident"`
	Fact    *pCall       `parser:"| @@ ) ';'"`
}

type pFixture struct {
	Kw    lexer.Token `parser:"@'test' 'fixture'"`
	Name  lexer.Token `parser:"@Ident '{'"`
	Facts []*pCall    `parser:"(@@ ';')*"`
	Close lexer.Token `parser:"@'}'"`
}

type pAssert struct {
	Kw   lexer.Token `parser:"@('assert' | 'assert_not')"`
	Call pCall       `parser:"@@"`
	Iff  *pIff       `parser:"@@? ';'"`
}

type pIff struct {
	Kw   lexer.Token `parser:"@'iff'"`
	Var  lexer.Token `parser:"@Ident"`
	Not  bool        `parser:"@'not'? 'in'"`
	List pList       `parser:"@@"`
}

// Expressions, loosest first: and < or < not < comparison.

type pAnd struct {
	Exprs []*pOr `parser:"@@ ('and' @@)*"`
}

type pOr struct {
	Exprs []*pNot `parser:"@@ ('or' @@)*"`
}

type pNot struct {
	Not  *lexer.Token `parser:"( @'not'"`
	Expr *pNot        `parser:"  @@"`
	Atom *pAtom       `parser:"| @@ )"`
}

type pAtom struct {
	Paren   *pAnd        `parser:"  '(' @@ ')'"`
	Call    *pCall       `parser:"| @@"`
	Left    *pTerm       `parser:"| @@ ("`
	Op      *lexer.Token `parser:"      @('=' | '==' | '!=' | '<=' | '>=' | '<' | '>' | 'in')"`
	Right   *pTerm       `parser:"      @@"`
	Matches *lexer.Token `parser:"    | 'matches' @Ident )"`
}

type pCall struct {
	Name lexer.Token `parser:"@Ident '('"`
	Args []*pParam   `parser:"(@@ (',' @@)*)? ')'"`
}

// pParam is a call argument; only rule heads and test assertions accept
// the `parser:": Type"` part, which convert.go checks.
type pParam struct {
	Term  pTerm        `parser:"@@"`
	Colon *lexer.Token `parser:"(@':'"`
	Type  *lexer.Token `parser:" @Ident)?"`
}

type pTerm struct {
	Entity *pEntity     `parser:"  @@"`
	Str    *lexer.Token `parser:"| @String"`
	Int    *lexer.Token `parser:"| @Int"`
	Bool   *lexer.Token `parser:"| @('true' | 'false')"`
	Const  *lexer.Token `parser:"| @Const"`
	List   *pList       `parser:"| @@"`
	Var    *lexer.Token `parser:"| @Ident"`
}

type pEntity struct {
	Type lexer.Token `parser:"@Ident '{'"`
	ID   pTerm       `parser:"@@ '}'"`
}

type pList struct {
	Open  lexer.Token `parser:"@'['"`
	Elems []*pTerm    `parser:"(@@ (',' @@)* ','?)? ']'"`
}

// grammar holds one participle parser per kind of top-level item. It is
// built once (participle.Build reflects over the structs) and is safe for
// concurrent use.
type grammar struct {
	block   *participle.Parser[pBlock]
	global  *participle.Parser[pGlobal]
	rule    *participle.Parser[pRule]
	declare *participle.Parser[pDeclare]
	test    *participle.Parser[pTest]
	fixture *participle.Parser[pFixture]
}

// lookahead is how many tokens a failed alternative may consume before
// participle commits to it; 3 covers `parser:"name("`, `parser:"Type{"` and `parser:"roles ="`.
const lookahead = 3

func build[G any]() (*participle.Parser[G], error) {
	return participle.Build[G](participle.Lexer(definition{}), participle.UseLookahead(lookahead))
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
	if g.rule, err = build[pRule](); err != nil {
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
