package parser_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/printer"
)

// ignorePos compares trees regardless of where their nodes were.
var ignorePos = cmpopts.IgnoreTypes(ast.Position{})

func mustParse(tb testing.TB, src string) *ast.File {
	tb.Helper()
	f, err := parser.Parse("test.polar", []byte(src))
	if err != nil {
		tb.Fatalf("Parse(%q): %v", src, fullError(err))
	}
	return f
}

func fullError(err error) string {
	var list ast.ErrorList
	if errors.As(err, &list) {
		return list.Full()
	}
	return err.Error()
}

// checkRoundTrip asserts that printing f and parsing the result gives f
// back, and that printing is idempotent.
func checkRoundTrip(tb testing.TB, f *ast.File) {
	tb.Helper()
	out := printer.String(f)
	g, err := parser.Parse(f.Name, []byte(out))
	if err != nil {
		tb.Fatalf("printed policy does not parse: %v\n%s", fullError(err), out)
	}
	if diff := cmp.Diff(f, g, ignorePos); diff != "" {
		tb.Fatalf("Parse(Print(f)) != f (-want +got):\n%s\nprinted:\n%s", diff, out)
	}
	if again := printer.String(g); again != out {
		tb.Fatalf("printing is not idempotent:\nfirst:\n%s\nsecond:\n%s", out, again)
	}
}

func TestParseBodies(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"call", `g(x)`, `(g x)`},
		{"and", `g(x) and h(x)`, `(and (g x) (h x))`},
		{"and chain flattens", `a(x) and b(x) and c(x)`, `(and (a x) (b x) (c x))`},
		{"or", `a(x) or b(x)`, `(or (a x) (b x))`},
		{"or binds tighter than and", `a(x) and b(x) or c(x)`, `(and (a x) (or (b x) (c x)))`},
		{"or binds tighter than and, left", `a(x) or b(x) and c(x)`, `(and (or (a x) (b x)) (c x))`},
		{"parens group and", `(a(x) and b(x)) or c(x)`, `(or (and (a x) (b x)) (c x))`},
		{"parens of same op flatten", `a(x) and (b(x) and c(x))`, `(and (a x) (b x) (c x))`},
		{"nested parens vanish", `((a(x)))`, `(a x)`},
		{"not binds tighter than or", `not a(x) or b(x)`, `(or (not (a x)) (b x))`},
		{"not of group", `not (a(x) or b(x))`, `(not (or (a x) (b x)))`},
		{"not not", `not not a(x)`, `(not (not (a x)))`},
		{"not binds looser than =", `not x = 1`, `(not (= x 1))`},
		{"unify", `x = y`, `(= x y)`},
		{"comparisons", `x == 1 and x != 2 and x < 3 and x <= 4 and x > 5 and x >= 6`,
			`(and (== x 1) (!= x 2) (< x 3) (<= x 4) (> x 5) (>= x 6))`},
		{"in list", `x in ["a", "b"]`, `(in x ["a" "b"])`},
		{"in variable", `x in xs`, `(in x xs)`},
		{"not in", `not x in [1, 2]`, `(not (in x [1 2]))`},
		{"matches", `x matches User`, `(matches x User)`},
		{"matches before call", `o matches Organization and has_relation(r, "parent", o)`,
			`(and (matches o Organization) (has_relation r "parent" o))`},
		{"entity literal", `x = User{"alice"}`, `(= x User{"alice"})`},
		{"primitive entity literals", `x = Integer{3} or y = Boolean{true} or z = String{"s"}`,
			`(or (= x Integer{3}) (= y Boolean{true}) (= z String{"s"}))`},
		{"signed integers", `x = -3 or x = +4 or x = 0`, `(or (= x -3) (= x 4) (= x 0))`},
		{"int64 bounds", `x = -9223372036854775808 or x = 9223372036854775807`,
			`(or (= x -9223372036854775808) (= x 9223372036854775807))`},
		{"booleans", `x = true and y = false`, `(and (= x true) (= y false))`},
		{"const", `x < @current_unix_time`, `(< x @current_unix_time)`},
		{"lists", `x = [] and y = [1, "a", User{"b"}, [true],]`, `(and (= x []) (= y [1 "a" User{"b"} [true]]))`},
		{"string escapes", `x = "a\"b\\c\nd\te"`, `(= x "a\"b\\c\nd\te")`},
		{"keywords as variables", `has_role(actor, role, resource) and resource matches Repo`,
			`(and (has_role actor role resource) (matches resource Repo))`},
		{"call with literals", `f("s", 1, true, T{"x"}, [1], _)`, `(f "s" 1 true T{"x"} [1] _)`},
		{"call without arguments", `f()`, `(f)`},
		{"comment inside body", "a(x) # why\n and b(x)", `(and (a x) (b x))`},
		{"multi-line body", "\n  a(x) and\n  b(x)", `(and (a x) (b x))`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, "f(x) if "+tc.body+";")
			if len(f.Items) != 1 {
				t.Fatalf("got %d items, want 1", len(f.Items))
			}
			r, ok := f.Items[0].(*ast.Rule)
			if !ok {
				t.Fatalf("got %T, want *ast.Rule", f.Items[0])
			}
			if got := dumpExpr(r.Body); got != tc.want {
				t.Errorf("body:\n got %s\nwant %s", got, tc.want)
			}
			checkRoundTrip(t, f)
		})
	}
}

func TestParseItems(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty file", ``, ``},
		{"comments only", "# a\n# b\n", ``},
		{"actor", `actor User {}`, `(actor User)`},
		{"resource extends", `resource Repo extends Base, Other {}`, `(resource Repo (extends Base Other))`},
		{"namespaced type", `resource App::Repo {}`, `(resource App::Repo)`},
		{"declarations", `resource R { roles = ["a", "b",]; permissions = []; relations = { parent: Org, owner: User, }; }`,
			"(resource R\n  (roles \"a\" \"b\")\n  (permissions)\n  (relations (parent Org) (owner User)))"},
		{"empty relations", `resource R { relations = {}; }`, "(resource R\n  (relations))"},
		{"shorthands", `resource R {
			"read" if "viewer";
			"viewer" if "owner" on "parent";
			"write" if global "admin";
			role if role on "parent";
			"x" if y;
			}`,
			"(resource R\n  (shorthand \"read\" \"viewer\")\n  (shorthand \"viewer\" \"owner\" on \"parent\")\n" +
				"  (shorthand \"write\" global \"admin\")\n  (shorthand role role on \"parent\")\n  (shorthand \"x\" y))"},
		{"shorthand conditions", `resource R {
			"read" if is_public(resource);
			"write" if owner(actor, resource) and not locked(resource);
			"a" if on = 1;
			"b" if (x(resource));
			role if not banned(actor);
			}`,
			"(resource R\n  (shorthand \"read\" if (is_public resource))\n  (shorthand \"write\" if (and (owner actor resource) (not (locked resource))))" +
				"\n  (shorthand \"a\" if (= on 1))\n  (shorthand \"b\" if (x resource))\n  (shorthand role if (not (banned actor))))"},
		{"roles in shorthand conditions", `resource R {
			"read" if is_open(resource) and "guest" on "team";
			"edit" if "writer" and not frozen(resource);
			"view" if global "auditor" or ("guest" and is_open(resource));
			"c" if "x" = y;
			}`,
			"(resource R\n  (shorthand \"read\" if (and (is_open resource) (ref \"guest\" on \"team\")))" +
				"\n  (shorthand \"edit\" if (and (ref \"writer\") (not (frozen resource))))" +
				"\n  (shorthand \"view\" if (or (ref global \"auditor\") (and (ref \"guest\") (is_open resource))))" +
				"\n  (shorthand \"c\" if (= \"x\" y)))"},
		{"global", `global { roles = ["admin"]; permissions = ["create"]; "create" if "admin"; }`,
			"(global\n  (roles \"admin\")\n  (permissions \"create\")\n  (shorthand \"create\" \"admin\"))"},
		{"fact rule", `has_role(_: User, "user");`, `(rule has_role (_:User "user"))`},
		{"typed params", `has_permission(u: User, "read", r: Repo) if has_role(u, "viewer", r);`,
			`(rule has_permission (u:User "read" r:Repo) (has_role u "viewer" r))`},
		{"literal params", `f(User{"alice"}, 3, -4, true, "s", [1, 2], x);`, `(rule f (User{"alice"} 3 -4 true "s" [1 2] x))`},
		{"rule named like a keyword", `actor(x) if resource(x); test(x); declare(x); global(x);`,
			"(rule actor (x) (resource x))\n(rule test (x))\n(rule declare (x))\n(rule global (x))"},
		{"declare", `declare is_weird(Integer, String, Boolean);`, `(declare is_weird Integer String Boolean)`},
		{"trailing commas", `f(x, _, ) if g(x, "a",); declare d(A, B,);`, "(rule f (x _) (g x \"a\"))\n(declare d A B)"},
		{"fixture", `test fixture base { has_role(User{"bob"}, "owner", Org{"acme"}); f(1); }`,
			"(fixture base\n  (has_role User{\"bob\"} \"owner\" Org{\"acme\"})\n  (f 1))"},
		{"test", `test "owners" {
			setup {
				fixture base;
				has_relation(Repo{"r"}, "parent", Org{"acme"});
				fixture other;
			}
			assert allow(User{"bob"}, "read", Org{"acme"});
			assert_not allow(User{"bob"}, "read", Org{"big"});
			assert has_permission(User{"bob"}, action: String, Org{"acme"}) iff action in ["read", "edit"];
			assert has_permission(User{"bob"}, action: String, _) iff action not in [];
		}`,
			"(test \"owners\"\n  (setup (fixture base) (has_relation Repo{\"r\"} \"parent\" Org{\"acme\"}) (fixture other))" +
				"\n  (assert (allow User{\"bob\"} \"read\" Org{\"acme\"}))" +
				"\n  (assert_not (allow User{\"bob\"} \"read\" Org{\"big\"}))" +
				"\n  (assert (has_permission User{\"bob\"} action:String Org{\"acme\"}) (iff action in [\"read\" \"edit\"]))" +
				"\n  (assert (has_permission User{\"bob\"} action:String _) (iff action not-in [])))"},
		{"test without setup", `test "t" { assert f(1); }`, "(test \"t\"\n  (assert (f 1)))"},
		{"empty test", `test "t" {}`, `(test "t")`},
		{"byte order mark", "\xEF\xBB\xBFactor U {}", `(actor U)`},
		{"CRLF line ends", "# c\r\nresource R {\r\n  roles = [\"a\"];\r\n}\r\nf(x) if\r\n  g(x);\r\n", "(resource R\n  (roles \"a\"))\n(rule f (x) (g x))"},
		{"several items on a line", `a(1); b(2); actor U {}`, "(rule a (1))\n(rule b (2))\n(actor U)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, tc.src)
			if got := strings.TrimSuffix(dump(f), "\n"); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			checkRoundTrip(t, f)
		})
	}
}

func TestParsePositions(t *testing.T) {
	src := "# c\nresource Repo {\n  roles = [\"a\"];\n}\nf(x: User) if\n  g(x) and x = 1;\n"
	f := mustParse(t, src)
	b := f.Items[0].(*ast.Block)
	r := f.Items[1].(*ast.Rule)
	and := r.Body.(*ast.And)
	got := map[string]ast.Position{
		"comment":      f.Comments[0].Pos,
		"block":        b.Pos,
		"block end":    b.End,
		"block name":   b.Name.Pos,
		"roles":        b.Body[0].Position(),
		"role string":  b.Body[0].(*ast.Declaration).Names[0].Pos,
		"rule":         r.Pos,
		"rule end":     r.End,
		"param":        r.Params[0].Pos,
		"param type":   r.Params[0].Type.Pos,
		"and":          and.Pos,
		"binary":       and.Exprs[1].Position(),
		"binary right": and.Exprs[1].(*ast.Binary).Right.Position(),
	}
	at := func(line, col, off int) ast.Position {
		return ast.Position{File: "test.polar", Line: line, Col: col, Offset: off}
	}
	want := map[string]ast.Position{
		"comment":      at(1, 1, 0),
		"block":        at(2, 1, 4),
		"block end":    at(4, 1, 37),
		"block name":   at(2, 10, 13),
		"roles":        at(3, 3, 22),
		"role string":  at(3, 12, 31),
		"rule":         at(5, 1, 39),
		"rule end":     at(6, 17, 69),
		"param":        at(5, 3, 41),
		"param type":   at(5, 6, 44),
		"and":          at(6, 3, 55),
		"binary":       at(6, 12, 64),
		"binary right": at(6, 16, 68),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]*ast.Comment{{Pos: at(1, 1, 0), Text: " c"}}, f.Comments); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
}
