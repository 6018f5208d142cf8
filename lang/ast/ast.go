// Package ast declares the syntax tree of a Polar policy (the Oso Cloud
// dialect) and the positioned errors reported against it.
//
// The tree is syntax only: shorthand rules are kept as written and names are
// not resolved. The parser (package lang/parser) builds it, the printer
// renders it back as canonical Polar, and the checker (package lang) turns
// files into a checked Program.
package ast

// File is one parsed .polar file.
type File struct {
	Name     string
	Items    []Item
	Comments []*Comment // every comment in source order, for the printer
}

// Comment is a "# ..." comment. Text excludes the leading '#'.
type Comment struct {
	Pos  Position
	Text string
}

// Item is a top-level item: *Block, *Rule, *Declare, *Test or *Fixture.
type Item interface {
	Node
	item()
}

// Node is any syntax node.
type Node interface {
	Position() Position
}

// BlockKind says what a block declares.
type BlockKind int

// Block kinds.
const (
	ActorBlock BlockKind = iota + 1
	ResourceBlock
	GlobalBlock
)

func (k BlockKind) String() string {
	switch k {
	case ActorBlock:
		return "actor"
	case ResourceBlock:
		return "resource"
	case GlobalBlock:
		return "global"
	}
	return "block"
}

// Block is `actor T {...}`, `resource T extends A, B {...}` or `global {...}`.
type Block struct {
	Pos     Position
	End     Position
	Kind    BlockKind
	Name    *Ident // nil for global
	Extends []*Ident
	Body    []BlockItem // in source order
}

// BlockItem is *Declaration, *Relations or *Shorthand.
type BlockItem interface {
	Node
	blockItem()
}

// Declaration is `roles = [...]` or `permissions = [...]`.
type Declaration struct {
	Pos     Position
	Keyword string // "roles" or "permissions"
	Names   []*StringLit
}

// Relations is `relations = { name: Type, ... }`.
type Relations struct {
	Pos       Position
	Relations []*Relation
}

// Relation is one `name: Type` entry of a relations declaration.
type Relation struct {
	Pos  Position
	Name *Ident
	Type *Ident
}

// Shorthand is a shorthand rule inside a block:
//
//	"read" if "viewer";
//	"viewer" if "owner" on "parent";
//	role if role on "parent";
//	"read" if global "admin";
//	"read" if is_public(resource);
type Shorthand struct {
	Pos     Position
	Head    *ShorthandName
	Global  bool // `if global "role"`
	Implier *ShorthandName
	On      *StringLit // nil unless `on "relation"`
	// Cond is the condition of `"read" if is_public(resource);`, an
	// expression over the variables actor and resource; Implier is nil then.
	Cond Expr
}

// ShorthandName is a quoted ("viewer") or unquoted (role) shorthand name.
type ShorthandName struct {
	Pos    Position
	Name   string
	Quoted bool
}

// Rule is a full rule: `name(params) [if body];`.
type Rule struct {
	Pos    Position
	End    Position
	Name   *Ident
	Params []*Param
	Body   Expr // nil when the rule has no body
}

// Param is one rule-head parameter: a term, optionally with a type
// specializer (`user: User`, `_: User`). A literal parameter has no Type.
type Param struct {
	Pos  Position
	Term Term
	Type *Ident // nil when not specialized
}

// Declare is `declare name(Type, ...);`.
type Declare struct {
	Pos   Position
	Name  *Ident
	Types []*Ident
}

// Test is `test "name" { setup {...} assert ...; }`.
type Test struct {
	Pos        Position
	End        Position
	Name       *StringLit
	Setup      *Setup // nil when absent
	Assertions []*Assertion
}

// Setup is the `setup { ... }` section of a test.
type Setup struct {
	Pos      Position
	Fixtures []*Ident // `fixture name;` references, in order
	Facts    []*Call  // ground facts, in order
	Order    []Node   // fixtures and facts interleaved as written (for printing)
}

// Fixture is `test fixture name { facts }`.
type Fixture struct {
	Pos   Position
	End   Position
	Name  *Ident
	Facts []*Call
}

// Assertion is `assert call;`, `assert_not call;` or
// `assert call iff x in [...];` / `... iff x not in [...];`.
type Assertion struct {
	Pos     Position
	Negated bool // assert_not
	Call    *Call
	Iff     *Iff // nil when absent
}

// Iff is the `iff x in [...]` / `iff x not in [...]` part of an assertion.
type Iff struct {
	Pos  Position
	Var  *Ident
	Not  bool
	List *List
}

// Expr is a rule-body expression: *And, *Or, *Not, *Call, *Binary or *Matches;
// in the condition of a shorthand rule also *ShorthandRef.
type Expr interface {
	Node
	expr()
}

// And is a conjunction of two or more expressions.
type And struct {
	Pos   Position
	Exprs []Expr
}

// Or is a disjunction of two or more expressions.
type Or struct {
	Pos   Position
	Exprs []Expr
}

// Not is negation as failure.
type Not struct {
	Pos  Position
	Expr Expr
}

// Call is a predicate call `name(args)`; also used for ground facts in tests
// and for assertion queries.
type Call struct {
	Pos  Position
	Name *Ident
	Args []Term
}

// Binary is `l op r` with op one of = == != < <= > >= in.
type Binary struct {
	Pos   Position
	Op    string
	Left  Term
	Right Term
}

// Matches is `term matches Type`.
type Matches struct {
	Pos  Position
	Term Term
	Type *Ident
}

// ShorthandRef is a role or permission inside the condition of a shorthand
// rule, as in `"read" if is_public(resource) and "member" on "parent";`:
// `"member"`, `"member" on "parent"` or `global "admin"`. It occurs only
// in a Shorthand's Cond.
type ShorthandRef struct {
	Pos    Position
	Name   *ShorthandName
	Global bool       // `global "role"`
	On     *StringLit // nil unless `on "relation"`
}

// Term is *Var, *TypedVar, *StringLit, *IntLit, *BoolLit, *EntityLit,
// *List or *ConstRef.
type Term interface {
	Node
	term()
}

// Var is a variable; "_" and names starting with "_" are anonymous.
type Var struct {
	Pos  Position
	Name string
}

// TypedVar is `name: Type` in a test assertion (used with iff) or `_: Type`.
type TypedVar struct {
	Pos  Position
	Name string
	Type *Ident
}

// StringLit is a double-quoted string; Value is unescaped.
type StringLit struct {
	Pos   Position
	Value string
}

// IntLit is a 64-bit signed integer literal.
type IntLit struct {
	Pos   Position
	Value int64
}

// BoolLit is true or false.
type BoolLit struct {
	Pos   Position
	Value bool
}

// EntityLit is `Type{"id"}` (also `Integer{3}`, `Boolean{true}`,
// `String{"x"}`, which the checker folds into primitives).
type EntityLit struct {
	Pos  Position
	Type *Ident
	ID   Term // *StringLit, *IntLit or *BoolLit
}

// List is `[t, ...]`.
type List struct {
	Pos   Position
	Elems []Term
}

// ConstRef is a built-in constant such as `@current_unix_time`.
type ConstRef struct {
	Pos  Position
	Name string // without the '@'
}

// Ident is a name with its position.
type Ident struct {
	Pos  Position
	Name string
}

func (n *Block) Position() Position         { return n.Pos }
func (n *Declaration) Position() Position   { return n.Pos }
func (n *Relations) Position() Position     { return n.Pos }
func (n *Relation) Position() Position      { return n.Pos }
func (n *Shorthand) Position() Position     { return n.Pos }
func (n *ShorthandName) Position() Position { return n.Pos }
func (n *Rule) Position() Position          { return n.Pos }
func (n *Param) Position() Position         { return n.Pos }
func (n *Declare) Position() Position       { return n.Pos }
func (n *Test) Position() Position          { return n.Pos }
func (n *Setup) Position() Position         { return n.Pos }
func (n *Fixture) Position() Position       { return n.Pos }
func (n *Assertion) Position() Position     { return n.Pos }
func (n *Iff) Position() Position           { return n.Pos }
func (n *And) Position() Position           { return n.Pos }
func (n *Or) Position() Position            { return n.Pos }
func (n *Not) Position() Position           { return n.Pos }
func (n *Call) Position() Position          { return n.Pos }
func (n *Binary) Position() Position        { return n.Pos }
func (n *Matches) Position() Position       { return n.Pos }
func (n *ShorthandRef) Position() Position  { return n.Pos }
func (n *Var) Position() Position           { return n.Pos }
func (n *TypedVar) Position() Position      { return n.Pos }
func (n *StringLit) Position() Position     { return n.Pos }
func (n *IntLit) Position() Position        { return n.Pos }
func (n *BoolLit) Position() Position       { return n.Pos }
func (n *EntityLit) Position() Position     { return n.Pos }
func (n *List) Position() Position          { return n.Pos }
func (n *ConstRef) Position() Position      { return n.Pos }
func (n *Ident) Position() Position         { return n.Pos }
func (n *Comment) Position() Position       { return n.Pos }

func (*Block) item()   {}
func (*Rule) item()    {}
func (*Declare) item() {}
func (*Test) item()    {}
func (*Fixture) item() {}

func (*Declaration) blockItem() {}
func (*Relations) blockItem()   {}
func (*Shorthand) blockItem()   {}

func (*And) expr()          {}
func (*Or) expr()           {}
func (*Not) expr()          {}
func (*Call) expr()         {}
func (*Binary) expr()       {}
func (*Matches) expr()      {}
func (*ShorthandRef) expr() {}

func (*Var) term()       {}
func (*TypedVar) term()  {}
func (*StringLit) term() {}
func (*IntLit) term()    {}
func (*BoolLit) term()   {}
func (*EntityLit) term() {}
func (*List) term()      {}
func (*ConstRef) term()  {}
