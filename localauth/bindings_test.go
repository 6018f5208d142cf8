package localauth

import (
	"errors"
	"regexp"
	"testing"

	"github.com/castellan-authz/castellan/lang"
)

const testPolicy = `
actor User {}
resource Organization {
  roles = ["member", "admin"];
  permissions = ["read"];
  "read" if "member";
  "member" if "admin";
}
resource Repository {
  roles = ["reader"];
  permissions = ["read"];
  relations = { parent: Organization };
  "reader" if "member" on "parent";
  "read" if "reader";
}
resource Issue {
  permissions = ["read", "close"];
  relations = { repository: Repository, creator: User };
  "read" if "read" on "repository";
  "close" if "creator";
  "read" if is_public(resource);
}
`

func mustProgram(tb testing.TB, src string) *lang.Program {
	tb.Helper()
	p, err := lang.Compile(lang.File{Filename: "policy.polar", Src: []byte(src)})
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	return p
}

func TestParseBindings(t *testing.T) {
	b, err := ParseBindings(`
facts:
  "has_relation(Issue:_, String:repository, Repository:_)":
    query: SELECT id, repository_id FROM issues
  has_relation(Issue:_, creator, User:_):
    query: 'SELECT id, creator_id FROM issues;'
  is_public(Issue:_):
    query: SELECT id FROM issues WHERE public
sql_types:
  Issue: Integer
  Repository: BIGINT
  User: uuid
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Facts) != 3 {
		t.Fatalf("facts = %d, want 3", len(b.Facts))
	}
	f := b.Facts[1]
	if f.Name != "has_relation" || f.Args[1].Column || f.Args[1].Const.ID != "creator" || f.Args[1].Type != "String" || f.Query != "SELECT id, creator_id FROM issues" || f.Line != 5 {
		t.Errorf("bare constant: %+v", f)
	}
	if got := b.Facts[0].Columns(); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("columns = %v", got)
	}
	if b.SQLTypes["Issue"] != SQLInteger || b.SQLTypes["Repository"] != SQLInteger || b.SQLTypes["User"] != SQLUUID {
		t.Errorf("sql_types = %v", b.SQLTypes)
	}
	if err := b.Check(mustProgram(t, testPolicy)); err != nil {
		t.Errorf("check: %v", err)
	}
}

func TestBindingErrors(t *testing.T) {
	p := mustProgram(t, testPolicy)
	for _, tc := range []struct{ name, src, want string }{
		{"blank", "  \n", `empty`},
		{"malformed yaml", "facts: [", `not valid YAML`},
		{"not a mapping", "- a\n- b\n", `top level must be a mapping`},
		{"no facts", "sql_types: {}\n", `facts is required`},
		{"unknown key", "facts: {}\nrules: {}\n", `line 2: unknown key "rules"`},
		{"bad signature", "facts:\n  has_relation Issue:\n    query: SELECT 1\n", `line 2: binding "has_relation Issue": a signature is`},
		{"no column", "facts:\n  is_public(Issue:1):\n    query: SELECT 1\n", `at least one Type:_`},
		{"null query", "facts:\n  is_public(Issue:_):\n    query:\n", `line 3: binding "is_public\(Issue:_\)": query must be a non-empty SQL string`},
		{"blank query", "facts:\n  is_public(Issue:_):\n    query: '  '\n", `query must be a non-empty`},
		{"null binding", "facts:\n  is_public(Issue:_):\n", `binding "is_public\(Issue:_\)": a binding must be a mapping`},
		{"two statements", "facts:\n  is_public(Issue:_):\n    query: SELECT id FROM issues; DROP TABLE issues\n", `one SELECT statement`},
		{"duplicate", "facts:\n  is_public(Issue:_):\n    query: SELECT 1\n  'is_public(Issue: _)':\n    query: SELECT 2\n", `line 4: .*bound on line 2`},
		{"bad integer constant", "facts:\n  f(Issue:_, Integer:x):\n    query: SELECT 1\n", `Integer id "x"`},
		{"bad sql type", "facts: {}\nsql_types:\n  Issue: money\n", `line 3: sql_types.Issue: unsupported SQL type "money"`},
		{"unknown predicate", "facts:\n  is_secret(Issue:_):\n    query: SELECT id FROM issues\n", `line 2: binding "is_secret\(Issue:_\)": unknown predicate is_secret/1`},
		{"wrong arity", "facts:\n  is_public(Issue:_, Boolean:_):\n    query: SELECT id, p FROM issues\n", `wrong number of arguments: is_public facts take 1`},
		{"unknown type", "facts:\n  is_public(Ticket:_):\n    query: SELECT id FROM tickets\n", `binding "is_public\(Ticket:_\)": argument 1: unknown type Ticket`},
		{"wrong types", "facts:\n  has_relation(Issue:_, String:repository, Organization:_):\n    query: SELECT 1, 2\n", `binding "has_relation\(Issue:_, String:repository, Organization:_\)": has_relation/3 expects`},
		{"unknown sql type", "facts: {}\nsql_types:\n  Ticket: integer\n", `sql_types: unknown type Ticket`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBindings(tc.src)
			if err == nil {
				err = b.Check(p)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !errors.Is(err, ErrBindings) {
				t.Errorf("%v is not ErrBindings", err)
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("error %q does not match %q", err, tc.want)
			}
		})
	}
}

func FuzzParseBindings(f *testing.F) {
	f.Add("facts:\n  has_relation(Issue:_, String:repository, Repository:_):\n    query: SELECT 1, 2\n")
	f.Add("facts: {}\nsql_types: {Issue: integer}\n")
	f.Add("facts:\n  f(a, Integer:3, Boolean:_):\n    query: x\n")
	p := mustProgram(f, testPolicy)
	f.Fuzz(func(t *testing.T, src string) {
		b, err := ParseBindings(src)
		if err == nil {
			_ = b.Check(p)
		}
	})
}
