package lang

import (
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
)

// Program is a checked, desugared policy: plain rules indexed by predicate
// and arity, plus what the rest of Castellan needs to know about the policy.
// A Program is immutable once Check returns it; share it freely.
type Program struct {
	// Rules holds every rule, shorthand rules expanded, plus the derived
	// allow(actor, action, resource) if has_permission(actor, action, resource).
	// Rules of one predicate appear in source order (derived rules last).
	Rules map[Pred][]*Rule

	// Types describes every type declared by an actor or resource block,
	// by name. The global block is not a type.
	Types map[string]*TypeInfo

	// FactTypes holds, for every predicate that may be stored (used in a rule
	// body, or declared), the argument types facts of it may take. See
	// CheckFact.
	FactTypes map[Pred][]FactType

	// Metadata describes the declared blocks, for clients that build
	// queries or user interfaces from the policy.
	Metadata Metadata

	// Tests are the policy's test blocks, fixtures expanded into setup facts.
	Tests []*Test

	// Warnings never fail a load (unused role, permission never granted, ...).
	Warnings ast.ErrorList

	// Files are the parsed files the program was checked from.
	Files []*ast.File

	// factIndex speeds up CheckFact for predicates with many argument-type
	// tuples; built by the checker, nil in hand-built programs.
	factIndex map[Pred]*factIndex

	// known is what the policy names, for QuestionNotes; nil in
	// hand-built programs.
	known *knownNames
}

// Pred names a predicate by name and arity: has_role/3 and has_role/2 are
// different predicates.
type Pred struct {
	Name  string
	Arity int
}

// TypeKind says whether a type is an actor or a resource.
type TypeKind int

// Kinds of declared types.
const (
	ActorType TypeKind = iota + 1
	ResourceType
)

// TypeInfo is one declared actor or resource type.
type TypeInfo struct {
	Name        string
	Kind        TypeKind
	Extends     []string
	Roles       []string          // sorted
	Permissions []string          // sorted
	Relations   map[string]string // relation name -> target type
	Pos         ast.Position
}

// Abstract type names. A specializer `x: Actor` matches a value of any actor
// type, `x: Resource` any resource type.
const (
	AbstractActor    = "Actor"
	AbstractResource = "Resource"
)

// FactType lists, position by position, the type a fact argument must have.
// An entry is a concrete type name ("User", "String"), an abstract type
// ("Actor", "Resource"), or "" for any type.
type FactType []string

// Metadata is the policy metadata: each block's roles, permissions and
// relations.
type Metadata struct {
	Resources map[string]ResourceMetadata
}

// ResourceMetadata lists a block's roles and permissions (sorted) and its
// relations. Every block appears, actors included, and "global" always
// (empty when the policy has no global block).
type ResourceMetadata struct {
	Roles       []string
	Permissions []string
	Relations   map[string]string
}

// Rule is one plain Horn clause: Head(Params) if Body.
type Rule struct {
	Pred   Pred
	Params []Param
	Body   Expr // nil when the rule is unconditionally true for matching params

	// Pos is where the rule (or the shorthand it came from) was written.
	Pos ast.Position
	// Text is the rule as written, for explanations: the shorthand text
	// for desugared rules, "allow if has_permission" for the derived rule.
	Text string
}

// Param is one head parameter: a term plus an optional type constraint.
type Param struct {
	Term Term
	// Type is the specializer: a concrete type, an abstract type (Actor,
	// Resource), or "" for none. Literal parameters have Type "".
	Type string
}

// Term is Var, Const, List or ConstRef.
type Term interface{ isTerm() }

// Var is a rule variable. The checker renames anonymous variables ("_",
// "_x") so that every occurrence of "_" is a distinct variable; names
// starting with "_" stay anonymous (never bound in output).
type Var struct{ Name string }

// Const is a ground value.
type Const struct{ Value term.Value }

// List is a list of terms (used with `in` and `=`).
type List struct{ Elems []Term }

// ConstRef is a built-in constant, resolved when a query runs. The only one
// is "current_unix_time": the query's Unix time in seconds, an Integer.
type ConstRef struct{ Name string }

func (Var) isTerm()      {}
func (Const) isTerm()    {}
func (List) isTerm()     {}
func (ConstRef) isTerm() {}

// Expr is And, Or, Not, Call, Unify, Compare, In or Matches.
type Expr interface{ isExpr() }

// And is a conjunction; the evaluator may reorder its literals.
type And struct{ Exprs []Expr }

// Or is a disjunction.
type Or struct{ Exprs []Expr }

// Not is negation as failure. The checker guarantees every variable in it
// is bound elsewhere in the rule (or is anonymous and local to it).
type Not struct{ Expr Expr }

// Call is a call of a predicate: a stored fact, a rule, or both.
type Call struct {
	Pred Pred
	Args []Term
	Pos  ast.Position
}

// Unify is `l = r`.
type Unify struct{ Left, Right Term }

// Compare is `l op r` for op one of == != < <= > >=. Ordering comparisons
// apply to two Integers or two Strings.
type Compare struct {
	Op          string
	Left, Right Term
}

// In is `elem in list`.
type In struct{ Elem, List Term }

// Matches is `term matches Type`: a type constraint on the term, wherever
// it appears in a body. Type may be abstract (Actor, Resource).
type Matches struct {
	Term Term
	Type string
}

func (And) isExpr()     {}
func (Or) isExpr()      {}
func (Not) isExpr()     {}
func (Call) isExpr()    {}
func (Unify) isExpr()   {}
func (Compare) isExpr() {}
func (In) isExpr()      {}
func (Matches) isExpr() {}

// Test is one test block, ready to run against an isolated fact source.
type Test struct {
	Name       string
	Pos        ast.Position
	Facts      []term.Fact // setup facts, fixtures expanded in order
	Assertions []*Assertion
}

// Assertion is one assert / assert_not of a test.
type Assertion struct {
	Negated bool // assert_not
	Call    Call // args are Const, Var (typed via VarTypes) or anonymous Var
	// VarTypes holds the declared type of each typed variable of the
	// assertion (`action: String`).
	VarTypes map[string]string
	// Iff, when set, says the assertion holds iff the values of Iff.Var
	// that satisfy Call are exactly (or, with Not, exactly none of) Values.
	Iff  *Iff
	Pos  ast.Position
	Text string // the assertion as written
}

// Iff is the iff clause of an assertion.
type Iff struct {
	Var    string
	Not    bool
	Values []term.Value
}
