package localauth_test

import (
	"testing"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/localauth"
)

// TestListSQLShape: list conditions are column = ANY (ARRAY(...)), which
// PostgreSQL answers through the column's index, except when an answer is
// a literal id of a type without sql_types, which only IN lets PostgreSQL
// coerce to the column's type.
func TestListSQLShape(t *testing.T) {
	const facts = "facts:\n  is_public(Issue:_):\n    query: SELECT id FROM issues WHERE public\n"
	literal := evaluator.Conj{Out: []evaluator.RTerm{{Var: -1, Val: term.Entity("Issue", "3")}}}
	local := evaluator.Conj{VarTypes: []string{"Issue"}, Atoms: []evaluator.Atom{{Kind: evaluator.AtomLocal, Shape: 0, Args: []evaluator.RTerm{{Var: 0}}}},
		Out: []evaluator.RTerm{{Var: 0}}}
	tests := []struct {
		name, bindings string
		conjs          []evaluator.Conj
		want           string
	}{
		{"local rows", facts, []evaluator.Conj{local}, "issues.id = ANY (ARRAY(WITH RECURSIVE c0(arg0) AS NOT MATERIALIZED (\nSELECT id FROM issues WHERE public\n) SELECT f1.arg0 FROM c0 AS f1))"},
		{"typed literal", facts + "sql_types:\n  Issue: integer\n", []evaluator.Conj{literal, local}, "issues.id = ANY (ARRAY(WITH RECURSIVE c0(arg0) AS NOT MATERIALIZED (\nSELECT id FROM issues WHERE public\n) SELECT 3 UNION SELECT f1.arg0 FROM c0 AS f1))"},
		{"untyped literal", facts, []evaluator.Conj{literal, local}, "issues.id IN (WITH RECURSIVE c0(arg0) AS NOT MATERIALIZED (\nSELECT id FROM issues WHERE public\n) SELECT '3' UNION SELECT f1.arg0 FROM c0 AS f1)"},
		{"only a literal", facts, []evaluator.Conj{literal}, "issues.id IN (SELECT '3')"},
		{"nothing", facts, nil, "false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := localauth.ParseBindings(tc.bindings)
			if err != nil {
				t.Fatal(err)
			}
			got := b.ListSQL(&evaluator.Residual{Outputs: []string{"resource"}, Conjs: tc.conjs}, "issues.id")
			if got != tc.want {
				t.Errorf("ListSQL:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
