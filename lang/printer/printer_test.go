package printer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/printer"
)

func parse(tb testing.TB, src string) *ast.File {
	tb.Helper()
	f, err := parser.Parse("p.polar", []byte(src))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return f
}

func TestString(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", ``, ``},
		{"blocks and blank lines", "actor User{}\nresource R extends A,B{roles=[\"a\",\"b\",];permissions=[];relations={p:R,o:User};\"x\" if \"a\";role if role on \"p\";\"y\" if global \"g\";}",
			"actor User {}\n\nresource R extends A, B {\n  roles = [\"a\", \"b\"];\n  permissions = [];\n  relations = { p: R, o: User };\n\n" +
				"  \"x\" if \"a\";\n  role if role on \"p\";\n  \"y\" if global \"g\";\n}\n"},
		{"shorthand condition", `resource R { "read" if a(resource) and b(actor) or c(actor); "x" if not (y(resource)); }`,
			"resource R {\n  \"read\" if a(resource) and (b(actor) or c(actor));\n  \"x\" if not y(resource);\n}\n"},
		{"empty relations", `resource R { relations = {}; }`, "resource R {\n  relations = {};\n}\n"},
		{"global", `global { roles = ["admin"]; }`, "global {\n  roles = [\"admin\"];\n}\n"},
		{"rules", "f(x:User,_:User,\"s\",-1,[1,2],T{\"i\"});g(x)if h(x);",
			"f(x: User, _: User, \"s\", -1, [1, 2], T{\"i\"});\n\ng(x) if h(x);\n"},
		{"needed parentheses", `f(x) if (a(x) and b(x)) or c(x) and not (d(x) or e(x)) and not (x = 1);`,
			"f(x) if ((a(x) and b(x)) or c(x)) and not (d(x) or e(x)) and not x = 1;\n"},
		{"or inside and gets parentheses", `f(x) if a(x) and b(x) or c(x);`, "f(x) if a(x) and (b(x) or c(x));\n"},
		{"redundant parentheses go", `f(x) if ((a(x))) and (b(x) and (c(x)));`, "f(x) if a(x) and b(x) and c(x);\n"},
		{"strings are escaped", "f(\"a\\\"b\\\\c\\nd\\te\\rf\");", "f(\"a\\\"b\\\\c\\nd\\te\\rf\");\n"},
		{"long bodies are split", "f(some_long_variable_name) if first_condition(some_long_variable_name) and second_condition(some_long_variable_name) or x = 1;",
			"f(some_long_variable_name) if\n  first_condition(some_long_variable_name) and\n  (second_condition(some_long_variable_name) or x = 1);\n"},
		{"declare", `declare f(A,B);`, "declare f(A, B);\n"},
		{"test and fixture", `test fixture fx{f(1);} test "t"{assert_not f(2); setup{g(1);fixture fx;} assert f(x:Integer) iff x not in [1];}`,
			"test fixture fx {\n  f(1);\n}\n\ntest \"t\" {\n  setup {\n    g(1);\n    fixture fx;\n  }\n\n" +
				"  assert_not f(2);\n  assert f(x: Integer) iff x not in [1];\n}\n"},
		{"comments", "# head\nf(1); # trailing\n# between\ng(1);\n# tail\n",
			"# head\nf(1); # trailing\n\n# between\ng(1);\n\n# tail\n"},
		{"blank lines between top-level comments", "# licence\n\n# about f\nf(1);\n# about g\n\ng(1);\n\n\n# end\n# of file\n",
			"# licence\n\n# about f\nf(1);\n\n# about g\n\ng(1);\n\n# end\n# of file\n"},
		{"blank lines between groups in bodies", "resource R {\n  roles = [\"a\"];\n\n\n  permissions = [\"p\"];\n  \"p\" if \"a\";\n\n  # why\n  \"a\" if \"a\";\n}\n" +
			"test \"t\" {\n  setup {\n    f(1);\n\n    f(2);\n  }\n  assert g(1);\n\n  assert g(2);\n}\n",
			"resource R {\n  roles = [\"a\"];\n\n  permissions = [\"p\"];\n\n  \"p\" if \"a\";\n\n  # why\n  \"a\" if \"a\";\n}\n\n" +
				"test \"t\" {\n  setup {\n    f(1);\n\n    f(2);\n  }\n\n  assert g(1);\n\n  assert g(2);\n}\n"},
		{"comments in blocks", "resource R { # open\n roles = [\n # inside a list\n \"a\"];\n # before close\n}\nactor U { # only a comment\n}",
			"resource R {\n  # open\n  roles = [\"a\"];\n  # inside a list\n  # before close\n}\n\nactor U {\n  # only a comment\n}\n"},
		{"comment in a multi-line rule moves after it", "f(x) if\n  # why\n  g(x);",
			"f(x) if g(x);\n\n# why\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := printer.String(parse(t, tc.src))
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if again := printer.String(parse(t, got)); again != got {
				t.Errorf("not idempotent:\n%s\nthen:\n%s", got, again)
			}
		})
	}
}

// TestHandBuilt prints trees that the parser does not produce: nested
// operators of the same kind and nodes without positions.
func TestHandBuilt(t *testing.T) {
	call := func(name string) ast.Expr {
		return &ast.Call{Name: &ast.Ident{Name: name}, Args: []ast.Term{&ast.Var{Name: "x"}}}
	}
	rule := func(body ast.Expr) *ast.File {
		return &ast.File{
			Items:    []ast.Item{&ast.Rule{Name: &ast.Ident{Name: "f"}, Params: []*ast.Param{{Term: &ast.Var{Name: "x"}}}, Body: body}},
			Comments: []*ast.Comment{{Text: " c"}},
		}
	}
	tests := []struct {
		name string
		body ast.Expr
		want string
	}{
		{"and in and", &ast.And{Exprs: []ast.Expr{call("a"), &ast.And{Exprs: []ast.Expr{call("b"), call("c")}}}},
			"f(x) if a(x) and (b(x) and c(x));\n"},
		{"or in or", &ast.Or{Exprs: []ast.Expr{&ast.Or{Exprs: []ast.Expr{call("a"), call("b")}}, call("c")}},
			"f(x) if (a(x) or b(x)) or c(x);\n"},
		{"not of and", &ast.Not{Expr: &ast.And{Exprs: []ast.Expr{call("a"), call("b")}}}, "f(x) if not (a(x) and b(x));\n"},
		{"matches", &ast.Matches{Term: &ast.Var{Name: "x"}, Type: &ast.Ident{Name: "User"}}, "f(x) if x matches User;\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A comment without a position comes first.
			if got, want := printer.String(rule(tc.body)), "# c\n"+tc.want; got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	// Nil nodes in a hand-built tree are skipped, not a panic.
	holey := &ast.File{Items: []ast.Item{
		&ast.Block{Kind: ast.ResourceBlock, Name: &ast.Ident{Name: "R"}, Body: []ast.BlockItem{
			&ast.Declaration{Keyword: "roles", Names: []*ast.StringLit{nil, {Value: "a"}}},
			&ast.Relations{Relations: []*ast.Relation{nil}},
		}},
		&ast.Rule{Name: &ast.Ident{Name: "f"}, Params: []*ast.Param{{Term: (*ast.Var)(nil)}},
			Body: &ast.And{Exprs: []ast.Expr{(*ast.Binary)(nil), &ast.Binary{Op: "=", Left: (*ast.List)(nil), Right: &ast.IntLit{Value: 1}}}}},
		&ast.Test{Assertions: []*ast.Assertion{{Call: &ast.Call{Name: &ast.Ident{Name: "g"}}, Iff: &ast.Iff{Var: &ast.Ident{Name: "x"}}}}},
	}}
	_ = printer.String(holey)
	if got := printer.String(nil); got != "" {
		t.Errorf("String(nil) = %q", got)
	}
}

type failingWriter struct{}

var errWrite = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestFprint(t *testing.T) {
	f := parse(t, "actor User {}\n")
	var b strings.Builder
	if err := printer.Fprint(&b, f); err != nil || b.String() != "actor User {}\n" {
		t.Errorf("Fprint = %q, %v", b.String(), err)
	}
	if err := printer.Fprint(failingWriter{}, f); !errors.Is(err, errWrite) {
		t.Errorf("Fprint to a failing writer: %v, want %v", err, errWrite)
	}
}

func BenchmarkString(b *testing.B) {
	var src strings.Builder
	for range 200 {
		src.WriteString("resource R { roles = [\"a\", \"b\"]; \"a\" if \"b\"; }\nf(x: User, \"y\") if g(x) and (h(x) or x = User{\"z\"});\n")
	}
	f := parse(b, src.String())
	b.ReportAllocs()
	for b.Loop() {
		_ = printer.String(f)
	}
}
