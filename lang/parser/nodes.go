package parser

import (
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// nodeBlock is how many leaves of one kind nodes allocates at a time.
const nodeBlock = 128

// nodes hands out the leaves of the AST (variables, strings, identifiers,
// shorthand names) from blocks of nodeBlock: a policy is mostly leaves,
// and they live as long as the file, so one allocation per block instead
// of one per leaf costs no memory held.
type nodes struct {
	vars   []ast.Var
	strs   []ast.StringLit
	idents []ast.Ident
	names  []ast.ShorthandName

	params     []ast.Param
	shorthands []ast.Shorthand
	refs       []ast.ShorthandRef
}

// take returns the next free element of a block, allocating a block when
// free is empty.
func take[T any](free *[]T) *T {
	if len(*free) == 0 {
		*free = make([]T, nodeBlock)
	}
	p := &(*free)[0]
	*free = (*free)[1:]
	return p
}

// ident returns the identifier t.
func (n *nodes) ident(t *lexer.Token) *ast.Ident {
	id := take(&n.idents)
	id.Pos, id.Name = astPos(t.Pos), t.Value
	return id
}

// str returns the string literal of the string token t.
func (n *nodes) str(t *lexer.Token) *ast.StringLit {
	s := take(&n.strs)
	s.Pos, s.Value = astPos(t.Pos), unquote(t.Value)
	return s
}

// variable returns the variable named by the identifier t.
func (n *nodes) variable(t *lexer.Token) *ast.Var {
	v := take(&n.vars)
	v.Pos, v.Name = astPos(t.Pos), t.Value
	return v
}

// shorthandName returns a role, permission or relation name of a
// shorthand rule.
func (n *nodes) shorthandName(pos ast.Position, name string, quoted bool) *ast.ShorthandName {
	s := take(&n.names)
	s.Pos, s.Name, s.Quoted = pos, name, quoted
	return s
}

// param returns a zero rule parameter.
func (n *nodes) param() *ast.Param {
	return take(&n.params)
}

// shorthand returns a zero shorthand rule.
func (n *nodes) shorthand() *ast.Shorthand {
	return take(&n.shorthands)
}

// shorthandRef returns a zero role or permission reference.
func (n *nodes) shorthandRef() *ast.ShorthandRef {
	return take(&n.refs)
}
