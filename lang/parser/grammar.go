package parser

import (
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar of Polar (the Oso Cloud dialect), as participle struct tags;
// the expression and value productions at the end of this file are
// participle Parseable nodes, implemented in values.go. This is the only
// parser: Parse splits a file into top-level items itself (so that one
// broken item does not hide the errors in the next) and hands
// each item's tokens to the parser for its kind; convert.go turns the
// structs into lang/ast nodes.
//
// The grammar is LL(1) and participle runs with no lookahead, so a
// production commits as soon as it has consumed a token and a syntax error
// points at the token that is actually wrong. To stay LL(1) some choices are
// left to convert.go: a term followed by '(' is a call, and convert.go
// checks that calls appear only where a condition can (and that a bare
// term is not used as one); list and argument separators are optional here
// and convert.go reports a missing ','; a block item is `name = ...` or
// `name if ...` and convert.go checks the name; a test item is `word {
// ... }` or `word call ...;` and convert.go checks the word; a condition
// is atoms joined by 'and' and 'or', which convert.go groups. Precedence,
// loosest first: and < or < not < comparison. These structs never leave
// the package.

// pBlock is `actor|resource Name [extends A, B] { items }`.
type pBlock struct {
	Kind    lexer.Token   `parser:"@('actor' | 'resource')"`
	Name    lexer.Token   `parser:"@Ident"`
	Extends []*pName      `parser:"('extends' @@+)?"`
	Items   []*pBlockItem `parser:"'{' @@*"`
	Close   lexer.Token   `parser:"@'}'"`
}

// pGlobal is `global { items }`.
type pGlobal struct {
	Kw    lexer.Token   `parser:"@'global'"`
	Items []*pBlockItem `parser:"'{' @@*"`
	Close lexer.Token   `parser:"@'}'"`
}

type pName struct {
	Tok   lexer.Token `parser:"@Ident"`
	Comma lexer.Token `parser:"@','?"`
}

// pBlockItem is a declaration (`roles = [...];`, `relations = {...};`) or
// a shorthand rule (`"read" if "reader" on "parent";`, `"read" if
// is_public(resource);`): the head is a role, permission or relation,
// quoted or not. Conditions and sub-structs are captured by value, not by
// pointer, which participle would allocate twice; Cond is the zero pCond
// in a declaration (see pCond.present).
type pBlockItem struct {
	Head lexer.Token `parser:"@(String | Ident)"`
	Cond pCond       `parser:"( 'if' @@"`
	List *pList      `parser:"| '=' ( @@"`
	Rels *pRelations `parser:"      | @@ ) ) ';'"`
}

// pRelations is `{ name: Type, ... }`.
type pRelations struct {
	Open lexer.Token  `parser:"@'{'"`
	Rels []*pRelation `parser:"@@* '}'"`
}

type pRelation struct {
	Name  lexer.Token `parser:"@Ident ':'"`
	Type  lexer.Token `parser:"@Ident"`
	Comma lexer.Token `parser:"@','?"`
}

// pRule is `name(params) [if body];`.
type pRule struct {
	Name lexer.Token `parser:"@Ident"`
	Args pArgs       `parser:"@@"`
	Body pCond       `parser:"('if' @@)?"`
	Semi lexer.Token `parser:"@';'"`
}

// pDeclare is `declare name(Type, ...);`.
type pDeclare struct {
	Kw    lexer.Token `parser:"@'declare'"`
	Name  lexer.Token `parser:"@Ident '('"`
	Types []*pName    `parser:"@@* ')' ';'"`
}

// pTest is `test "name" { items }`.
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

// pFixture is `test fixture name { facts }`.
type pFixture struct {
	Kw    lexer.Token `parser:"@'test' 'fixture'"`
	Name  lexer.Token `parser:"@Ident '{'"`
	Facts []*pCall    `parser:"(@@ ';')*"`
	Close lexer.Token `parser:"@'}'"`
}

// pIff is `iff x [not] in [...]`.
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

// The expression language (rule bodies and shorthand conditions) and
// values (terms, argument lists and list literals) are most of a policy's
// tokens. Participle's reflective parsing allocates a branch context per
// alternative it tries, a deferred capture per token it captures and a
// struct per node, which put a compile well over its time budget; so
// these productions are participle Parseable nodes (values.go), parsed
// there and nowhere else, LL(1) like the rest and with the same
// commitment: NextMatch when the next token cannot start the production,
// an error at the token where it went wrong once it has consumed one.
//
//	cond = atom { Logic atom }             (Logic: 'and' or 'or')
//	atom = ( "global" String
//	       | term [ Cmp term | "matches" Ident ]
//	       | "not" atom
//	       | "(" cond ")" ) [ "on" String ]
//	term = Ident [ "(" { arg } ")" | "{" term "}" ]
//	     | String | Int | "true" | "false" | Const | list
//	arg  = term [ ":" Ident ] [ "," ]      (convert.go checks the ',')
//	list = "[" { arg } "]"                 (convert.go rejects a type)

// pCond is a condition: atoms joined by 'and' and 'or' (one token type,
// Logic). 'or' binds tighter than 'and', so `a and b or c` is `a and (b
// or c)`: convert.go groups the atoms by the operators between them.
type pCond struct {
	First pAtom
	Ops   []string // Ops[i] joins Rest[i] to what precedes it
	Rest  []*pAtom
}

// pAtom is a negation, a global role (`global "admin"`), a comparison, `t
// matches Type`, a term with a relation (`"member" on "parent"`, only in
// shorthand conditions), a bare term (a call, or in a shorthand condition a
// role or permission) or a parenthesised condition.
type pAtom struct {
	Global  *lexer.Token
	Role    *lexer.Token // the String after Global
	Term    pTerm
	Op      *lexer.Token // Cmp
	Right   *pTerm
	Type    *lexer.Token // the Ident after 'matches'
	Not     *lexer.Token
	Negated *pAtom
	Paren   *pCond
	On      *lexer.Token
	Rel     *lexer.Token // the String after On
}

// pTerm is a value: a variable, a call, an entity `Type{"id"}`, a
// literal, a constant `@name` or a list.
type pTerm struct {
	Name   *lexer.Token
	Open   *lexer.Token // '(' of a call
	Args   []pArg
	Entity *pTerm // the id of an entity
	Str    *lexer.Token
	Int    *lexer.Token
	Bool   *lexer.Token
	Const  *lexer.Token
	List   *pList
}

// pArgs is the parenthesised argument list of a rule head, fact or
// assertion. Which arguments may carry a type is checked by convert.go.
type pArgs struct {
	Open lexer.Token
	Args []pArg
}

// pArg is an argument or a list element with its optional type and ','.
type pArg struct {
	Term  pTerm
	Colon *lexer.Token
	Type  *lexer.Token
	Comma *lexer.Token
}

// pList is a list literal.
type pList struct {
	Open  lexer.Token
	Elems []pArg
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
