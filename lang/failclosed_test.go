package lang

import (
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang/ast"
)

// A body condition the checker cannot convert must reject the policy: if it
// were dropped, the rule would grant more than it says.
func TestCheckFailsClosedOnUnconvertibleConditions(t *testing.T) {
	pos := ast.Position{File: "p.polar", Line: 1, Col: 1}
	ident := func(n string) *ast.Ident { return &ast.Ident{Pos: pos, Name: n} }
	rule := func(cond ast.Expr) *ast.File {
		return &ast.File{Name: "p.polar", Items: []ast.Item{&ast.Rule{
			Pos:    pos,
			Name:   ident("allow"),
			Params: []*ast.Param{{Pos: pos, Term: &ast.Var{Pos: pos, Name: "x"}}},
			Body: &ast.And{Pos: pos, Exprs: []ast.Expr{
				&ast.Call{Pos: pos, Name: ident("is_user"), Args: []ast.Term{&ast.Var{Pos: pos, Name: "x"}}},
				cond,
			}},
		}}}
	}
	tests := []struct {
		name string
		cond ast.Expr
		want string
	}{
		{"matches without a type", &ast.Matches{Pos: pos, Term: &ast.Var{Pos: pos, Name: "x"}}, "matches needs a type"},
		{"call without a name", &ast.Call{Pos: pos}, "needs a predicate name"},
		{"negated call without a name", &ast.Not{Pos: pos, Expr: &ast.Call{Pos: pos}}, "needs a predicate name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(rule(tc.cond))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
