package parser

import (
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/ast"
)

// firstItem scans src and returns its first top-level item.
func firstItem(t *testing.T, src string) span {
	t.Helper()
	var errs ast.ErrorList
	f := &ast.File{Name: "t.polar"}
	sp := splitter{sc: newScanner(f.Name, []byte(src), &errs, &f.Comments)}
	it, ok := sp.nextItem()
	if !ok || len(errs) > 0 {
		t.Fatalf("scanning %q: ok %v, errors %v", src, ok, errs)
	}
	return it
}

func newTestParser(t *testing.T, it span) *fileParser {
	t.Helper()
	g, err := loadGrammar()
	if err != nil {
		t.Fatal(err)
	}
	return &fileParser{g: g, file: &ast.File{Name: "t.polar"}, maxDepth: DefaultMaxDepth, nodes: &nodes{},
		cur: it, eof: lexer.EOFToken(it.next.Pos)}
}

// TestSimpleBlockMatchesParticiple checks that the hand-parsed path for
// blocks gives the same AST and errors as participle's grammar, and that
// it declines what it does not handle.
func TestSimpleBlockMatchesParticiple(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		simple bool // whether the hand-parsed path takes it
	}{
		{"resource", `resource Repo {
  roles = ["reader", "maintainer"];
  permissions = ["read", "push",];
  relations = { owner: Org, creator: User, };
  "read" if "reader";
  "reader" if "maintainer" on "owner";
  "push" if global "admin";
  role if "member" on "owner";
  "push" if "maintainer" and is_public(resource);
}`, true},
		{"actor", `actor User {}`, true},
		{"global", `global { roles = ["admin"]; }`, true},
		{"unknown declaration is reported, not a syntax error", `resource A { rols = ["x"]; }`, true},
		{"missing comma between relations", `resource A { relations = { a: B c: D }; }`, true},
		{"relations given as a list", `resource A { relations = ["a"]; }`, true},
		{"missing ';' at the end of a line", "resource A {\n  roles = [\"a\"]\n  permissions = [\"b\"];\n}", false},
		{"extends", `resource A extends B { roles = ["x"]; }`, false},
		{"syntax error", `resource A { roles = ["x" }`, false},
		{"missing ';' before '}'", `resource A { "read" if "reader" }`, false},
		{"keyword as name", `resource if { }`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := firstItem(t, tc.src)
			global := it.toks[0].Value == "global"

			fast := newTestParser(t, it)
			var got *ast.Block
			if global {
				if b := fast.simpleGlobal(it); b != nil {
					got = fast.convGlobal(b)
				}
			} else if b := fast.simpleBlock(it); b != nil {
				got = fast.convBlock(b)
			}
			if (got != nil) != tc.simple {
				t.Fatalf("hand-parsed path took it: %v, want %v", got != nil, tc.simple)
			}
			if got == nil {
				return
			}

			slow := newTestParser(t, it)
			var want *ast.Block
			if global {
				if b, ok := parseWith(slow, it, slow.g.global, blockWords); ok {
					want = slow.convGlobal(b)
				}
			} else if b, ok := parseWith(slow, it, slow.g.block, blockWords); ok {
				want = slow.convBlock(b)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("AST differs from participle's (-participle +hand):\n%s", diff)
			}
			if diff := cmp.Diff(slow.errs, fast.errs); diff != "" {
				t.Errorf("errors differ from participle's (-participle +hand):\n%s", diff)
			}
		})
	}
}
