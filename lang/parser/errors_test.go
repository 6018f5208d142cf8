package parser_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		pos  string // line:col of the first error
		msg  string // regexp for its message
		hint string // regexp for its hint; "" means no hint expected
	}{
		// Missing punctuation.
		{"missing semicolon before rule", "f(x) if g(x)\nh(x) if i(x);", "2:1", `^unexpected 'h'; expected ';'$`, `did you forget a ';'\?`},
		{"missing semicolon in block", "resource Foo {\n  roles = [\"a\"]\n  permissions = [\"b\"];\n}", "3:3", `unexpected 'permissions'; expected ';'`, `forget a ';'`},
		{"missing semicolon before block", "f(x) if g(x)\nresource Foo {}", "2:1", `unexpected 'resource'; expected ';'`, `forget a ';'`},
		{"missing brace before block", "resource Foo {\n  roles = [\"a\"];\nresource Bar {}", "3:1", `unexpected 'resource'; expected '}'`, `forget a '}'`},
		{"eof in body", "f(x) if g(x) and", "1:17", `^hit the end of the file unexpectedly`, `did you forget a ';' or '}'\?`},
		{"eof in block", "resource R {\n  roles = [\"a\"];\n", "3:1", `hit the end of the file unexpectedly`, `forget a ';' or '}'`},
		{"eof after head", "f(x)", "1:5", `hit the end of the file unexpectedly`, `forget`},
		{"missing comma in list", `f(x) if x in [1 2];`, "1:17", `^missing ','$`, `separate`},
		{"missing comma in args", `f(x y);`, "1:5", `^missing ','$`, `separate`},
		{"trailing comma in extends", `resource R extends A, {}`, "1:21", `unexpected ','`, `remove`},
		{"rule flag", `@someflag f(x) if g(x);`, "1:1", `rule flags such as @someflag are not supported`, `remove`},
		{"missing paren", `f(x if g(x);`, "1:5", `unexpected 'if'; expected`, ``},
		{"lone actor", `actor`, "1:6", `hit the end of the file unexpectedly`, `forget`},
		{"lone resource name", "actor User\nresource Repo {}", "2:1", `unexpected 'resource'; expected '\{'`, `braces, even when empty`},
		{"block without a name", `resource { }`, "1:10", `unexpected '\{'; expected a name`, ``},
		{"test name unquoted", "test t { assert f(1); }\nf(2);", "1:6", `the name of a test is a string`, `test "t"`},
		{"brace on the same line", `global { roles = ["a"] }`, "1:24", `unexpected '\}'; expected ';'`, `forget a ';'`},
		// Typos get the nearest keyword.
		{"relation keyword typo", "resource R {\n  \"a\" if \"b\" onn \"parent\";\n}", "2:14", `^unexpected relation keyword 'onn'$`, `^did you mean 'on'\?$`},
		{"and typo", `f(x) if g(x) an h(x);`, "1:14", `unexpected 'an'`, `did you mean 'and'\?`},
		{"iff for if", `f(x) iff g(x);`, "1:6", `unexpected 'iff'`, `did you mean 'if'\?`},
		{"resource typo", "resouce Repo {\n  roles = [\"a\"];\n}\nf(1);", "1:1", `^unknown keyword 'resouce'$`, `did you mean 'resource'\?`},
		{"actor typo", `acter User {}`, "1:1", `unknown keyword 'acter'`, `did you mean 'actor'\?`},
		{"test typo", `tset "t" { assert f(1); }`, "1:1", `unknown keyword 'tset'`, `did you mean 'test'\?`},
		{"declare typo", `declar f(String);`, "1:1", `unknown keyword 'declar'`, `did you mean 'declare'\?`},
		{"unknown declaration", "resource R {\n  role = [\"a\"];\n}", "2:3", `^unknown declaration 'role'$`, `did you mean 'roles'\?`},
		{"unknown declaration far", `resource R { colors = ["a"]; }`, "1:14", `unknown declaration 'colors'`, `roles, permissions or relations`},
		{"assert typo", `test "t" { asert f(1); }`, "1:12", `unexpected 'asert'; expected 'assert'`, `did you mean 'assert'\?`},
		{"setup typo", `test "t" { stup { f(1); } }`, "1:12", `unexpected 'stup'; expected 'setup'`, `did you mean 'setup'\?`},
		{"fixture typo", `test "t" { setup { fixtur base; } }`, "1:20", `unexpected 'fixtur'`, `did you mean 'fixture'\?`},
		{"global typo", `resource R { "a" if globl "admin"; }`, "1:27", `unexpected string "admin"`, `did you mean 'global'\?`},
		// Reserved words and misplaced things.
		{"reserved word as variable", `f(and) if g(x);`, "1:3", `^unexpected reserved word 'and'$`, `reserved word`},
		{"reserved word as rule name", `in(x);`, "1:1", `unexpected 'in' at the top level`, `a policy holds`},
		{"top-level shorthand", `"read" if "viewer";`, "1:1", `unexpected string "read" at the top level`, `inside an actor, resource or global block`},
		{"bare variable as condition", `f(x) if x;`, "1:9", `^'x' is not a condition$`, `a call such as f\(x\)`},
		{"call as value", `f(x) if x = g(x);`, "1:13", `^a call to g cannot be used as a value$`, `on its own`},
		{"chained comparison", `f(x) if x = y = z;`, "1:15", `unexpected '='; expected ';'`, `do not chain`},
		{"unquoted relation", `resource R { "a" if "b" on parent; }`, "1:28", `unexpected 'parent'; expected a string`, `quoted: on "parent"`},
		{"matches a string", `f(x) if x matches "User";`, "1:19", `unexpected string "User"; expected a type name`, `type name`},
		{"type on a literal", `f(1: Integer);`, "1:4", `only a variable can have a type`, `x: User`},
		{"type in a body call", `f(x) if g(x: User);`, "1:12", `a type is not allowed here`, `rule head`},
		{"type in a fact", `test fixture f { g(x: User); }`, "1:21", `a type is not allowed here`, `rule head`},
		{"entity with variable id", `f(x) if y = User{x};`, "1:18", `the id of User\{\.\.\.\} must be a literal`, `User\{"alice"\}`},
		{"roles not strings", `resource R { roles = [viewer]; }`, "1:23", `roles are strings`, `quote`},
		{"relations as list", `resource R { relations = [Org]; }`, "1:26", `relations are declared with \{`, `parent: Organization`},
		{"roles as map", `resource R { roles = { a: B }; }`, "1:22", `roles are declared with a list of strings`, `roles = \["a", "b"\]`},
		{"on without a relation in a condition", `resource D { "read" if f(resource) and "member" on; }`,
			"1:51", `unexpected ';'; expected a string`, ``},
		{"on after global in a condition", `resource D { "read" if f(resource) and global "admin" on "p"; }`,
			"1:55", `unexpected 'on' after a global role`, `not on a relation`},
		{"bare name condition", `resource R { "a" if b and c; }`, "1:21", `^'b' is not a condition$`, `a call such as`},
		{"shorthand condition error", `resource R { "a" if is_public(resource) and ; }`, "1:45", `unexpected ';'; expected a condition`, ``},
		{"on after global", `resource R { "a" if global "b" on "p"; }`, "1:32", `unexpected 'on' after a global role`, `not on a relation`},
		{"two setups", `test "t" { setup { f(1); } setup { f(2); } }`, "1:28", `at most one setup block`, `merge`},
		{"namespaced variable", `f(a::b);`, "1:3", `invalid name "a::b"`, `only type names`},
		{"integer out of range", `f(x) if x = 9223372036854775808;`, "1:13", `integer 9223372036854775808 is out of range`, `64-bit`},
		// Lexical errors.
		{"unterminated string", "f(x) if x = \"abc\ng(y);", "1:13", `^unterminated string$`, `ends with '"'`},
		{"unknown escape", `f(x) if x = "a\qb";`, "1:15", `unknown escape sequence "\\\\q"`, `escapes are`},
		{"single quotes", `f(x) if x = 'a';`, "1:13", `unexpected character "'"`, `double quotes`},
		{"ampersands", `f(x) if a(x) && b(x);`, "1:14", `unexpected character "&"`, `write 'and'`},
		{"non-ascii", "f(x) if x = café;", "1:16", `unexpected character`, `ASCII`},
		{"lone at", `f(x) if x = @;`, "1:13", `unexpected character "@"`, ``},
		// Constructs Oso Cloud does not support.
		{"type rule", `type f(x, y);`, "1:1", `^Extensible rule types f are not supported in Oso Cloud policies\.$`, `declare`},
		{"cut", `f(x) if g(x) and cut;`, "1:18", `'cut' is not supported in Oso Cloud policies`, ``},
		{"forall", `f(x) if forall(g(x), h(x));`, "1:9", `'forall' is not supported in Oso Cloud policies`, ``},
		{"debug", `f(x) if debug();`, "1:9", `'debug' is not supported`, ``},
		{"print", `f(x) if print(x);`, "1:9", `'print' is not supported`, ``},
		{"isa", `f(x) if x isa User;`, "1:11", `'isa' is not supported`, `matches`},
		{"inline query", `?= f(1);`, "1:1", `inline queries \(\?=\) are not supported in Oso Cloud policies`, `test block`},
		{"field access", `f(x) if x.name = "a";`, "1:10", `field access with '\.' is not supported in Oso Cloud policies`, `facts`},
		{"addition", `f(x) if x = 1 + 2;`, "1:15", `arithmetic \(\+\) is not supported in Oso Cloud policies`, `application`},
		{"subtraction", `f(x) if x = y - 2;`, "1:15", `arithmetic \(-\) is not supported`, `application`},
		{"subtraction without space", `f(x) if x = y -2;`, "1:15", `arithmetic \(-\) is not supported`, `application`},
		{"multiplication", `f(x) if x = y * 2;`, "1:15", `arithmetic \(\*\) is not supported`, `application`},
		{"division", `f(x) if x = y / 2;`, "1:15", `arithmetic \(/\) is not supported`, `application`},
		{"float", `f(x) if x = 1.5;`, "1:13", `floating-point numbers are not supported in Oso Cloud policies`, `Integer`},
		{"float exponent", `f(x) if x = 1e9;`, "1:13", `floating-point numbers are not supported`, `Integer`},
		{"dictionary", `f(x) if x = {a: 1};`, "1:13", `dictionaries are not supported in Oso Cloud policies`, `facts`},
		{"dictionary in call", `f({a: 1});`, "1:3", `dictionaries are not supported`, `facts`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parser.Parse("bad.polar", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", tc.src)
			}
			var list ast.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ast.ErrorList", err)
			}
			e := list[0]
			if got := fmt.Sprintf("%d:%d", e.Pos.Line, e.Pos.Col); got != tc.pos || e.Pos.File != "bad.polar" {
				t.Errorf("position %s (file %q), want %s\n%s", got, e.Pos.File, tc.pos, list.Full())
			}
			if !regexp.MustCompile(tc.msg).MatchString(e.Msg) {
				t.Errorf("message %q does not match %q", e.Msg, tc.msg)
			}
			switch {
			case tc.hint == "" && e.Hint != "":
				t.Errorf("unexpected hint %q", e.Hint)
			case tc.hint != "" && !regexp.MustCompile(tc.hint).MatchString(e.Hint):
				t.Errorf("hint %q does not match %q", e.Hint, tc.hint)
			}
			if want := fmt.Sprintf("bad.polar:%s: ", tc.pos); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
			checkPositions(t, tc.src, list)
		})
	}
}

// checkPositions asserts that every error points inside the input.
func checkPositions(tb testing.TB, src string, list ast.ErrorList) {
	tb.Helper()
	lines := strings.Split(src, "\n")
	for _, e := range list {
		p := e.Pos
		if p.Offset < 0 || p.Offset > len(src) || p.Line < 1 || p.Line > len(lines) || p.Col < 1 || p.Col > len(lines[p.Line-1])+1 {
			tb.Errorf("error %q at %d:%d (offset %d) is outside the input (%d bytes, %d lines)", e.Msg, p.Line, p.Col, p.Offset, len(src), len(lines))
			continue
		}
		// Line, column and offset agree.
		off := 0
		for _, l := range lines[:p.Line-1] {
			off += len(l) + 1
		}
		if off+p.Col-1 != p.Offset {
			tb.Errorf("error %q at %d:%d has offset %d, want %d", e.Msg, p.Line, p.Col, p.Offset, off+p.Col-1)
		}
	}
}

func TestParseRecovers(t *testing.T) {
	src := `actor User {}

f(x) if g(x) h(x);

resource Repo {
  roles = ["reader"]
  "read" if "reader" onn "parent";
  "write" if ;
  "admin" if "reader";
}

ok(1);

test "t" {
  assert f(1)
}

also_ok(2);
bad(x) if x = ;
`
	f, err := parser.Parse("multi.polar", []byte(src))
	var list ast.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse: %v, want an ast.ErrorList", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%d:%d", e.Pos.Line, e.Pos.Col))
	}
	if want := "3:14 7:3 7:22 8:14 16:1 19:15"; strings.Join(got, " ") != want {
		t.Errorf("error positions %v, want %s\n%s", got, want, list.Full())
	}
	if got, want := strings.TrimSpace(dump(f)), "(actor User)\n(rule ok (1))\n(rule also_ok (2))"; got != want {
		t.Errorf("items that parsed:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(err.Error(), "(and 5 more errors)") {
		t.Errorf("Error() = %q, want it to count the other errors", err.Error())
	}
}

func TestParseDepthLimit(t *testing.T) {
	tests := []struct {
		name  string
		build func(n int) string
	}{
		{"parentheses", func(n int) string { return "f(x) if " + strings.Repeat("(", n) + "g(x)" + strings.Repeat(")", n) + ";" }},
		{"nots", func(n int) string { return "f(x) if " + strings.Repeat("not ", n) + "g(x);" }},
		{"not and parentheses", func(n int) string {
			return "f(x) if " + strings.Repeat("not (", n/2) + "g(x)" + strings.Repeat(")", n/2) + ";"
		}},
		{"lists", func(n int) string { return "f(x) if x = " + strings.Repeat("[", n) + strings.Repeat("]", n) + ";" }},
	}
	cfg := parser.Config{MaxDepth: 8}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The call g(x) is one more level.
			if _, err := cfg.Parse("ok.polar", []byte(tc.build(7))); err != nil {
				t.Errorf("depth 7: %v", err)
			}
			_, err := cfg.Parse("deep.polar", []byte(tc.build(10)))
			if err == nil || !strings.Contains(err.Error(), "nested too deeply (more than 8 levels)") {
				t.Errorf("depth 10: got %v, want a nesting error", err)
			}
		})
	}
	// The default limit stops pathological input cheaply, without a panic.
	src := "f(x) if " + strings.Repeat("(", 100000) + ";"
	if _, err := parser.Parse("huge.polar", []byte(src)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("100000 parentheses: got %v", err)
	}
}
