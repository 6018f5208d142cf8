package parser_test

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/printer"
)

// checkInvariants asserts what must hold for any input: Parse does not
// panic; its error is an ast.ErrorList whose positions lie inside the
// input; a policy that parses prints to a policy that parses to the same
// tree, and printing that again gives the same text.
func checkInvariants(t *testing.T, src []byte) {
	t.Helper()
	f, err := parser.Parse("fuzz.polar", src)
	if f == nil {
		t.Fatal("Parse returned a nil file")
	}
	if err != nil {
		var list ast.ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("error is %T, want ast.ErrorList: %v", err, err)
		}
		if len(list) == 0 {
			t.Fatal("empty ErrorList returned as an error")
		}
		for _, e := range list {
			if e.Pos.File != "fuzz.polar" {
				t.Errorf("error %q names file %q", e.Msg, e.Pos.File)
			}
			if e.Msg == "" {
				t.Errorf("error at %v has no message", e.Pos)
			}
		}
		checkPositions(t, string(src), list)
		return
	}
	out := printer.String(f)
	g, err := parser.Parse("fuzz.polar", []byte(out))
	if err != nil {
		t.Fatalf("printed policy does not parse: %v\ninput:\n%q\nprinted:\n%s", fullError(err), src, out)
	}
	if diff := cmp.Diff(f, g, ignorePos); diff != "" {
		t.Fatalf("Parse(Print(f)) != f (-want +got):\n%s\ninput:\n%q\nprinted:\n%s", diff, src, out)
	}
	if again := printer.String(g); again != out {
		t.Fatalf("printing is not idempotent:\ninput:\n%q\nfirst:\n%s\nsecond:\n%s", src, out, again)
	}
}

func FuzzParse(f *testing.F) {
	for _, path := range testdataPolicies(f) {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		``, `f(x) if g(x) and`, `resource R {`, `"a" if "b";`, `f(x) if x = "unterminated`,
		`f(x) if ((((g(x)))));`, `test "t" { setup { fixture a; } assert f(1) iff x not in [1,]; }`,
		"f(x) if x = 1 # c\n;", `f(x) if x = @now;`, `resource A::B extends C, D {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkInvariants(t, src)
	})
}
