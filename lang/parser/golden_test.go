package parser_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/printer"
)

var update = flag.Bool("update", false, "rewrite the golden files of lang/testdata/parse")

// golden is what a .golden file holds: the canonical print of the policy,
// then the syntax tree as an s-expression in comments, so that the file is
// itself a policy that parses to the same tree.
func golden(name string, src []byte) (string, error) {
	f, err := parser.Parse(name, src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(printer.String(f))
	b.WriteString("\n# ---- syntax tree (positions omitted) ----\n")
	for _, line := range strings.Split(strings.TrimSuffix(dump(f), "\n"), "\n") {
		b.WriteString("# " + line + "\n")
	}
	return b.String(), nil
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("../testdata/parse/*.polar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden inputs in lang/testdata/parse")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := golden(filepath.Base(path), src)
			if err != nil {
				t.Fatalf("parse: %s", fullError(err))
			}
			goldenPath := strings.TrimSuffix(path, ".polar") + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test ./lang/parser -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the parse of %s (run go test ./lang/parser -update and review the diff):\n%s",
					goldenPath, path, got)
			}
			// The golden file is itself a policy with the same tree.
			f := mustParse(t, string(src))
			checkRoundTrip(t, f)
			g, err := parser.Parse(filepath.Base(path), want)
			if err != nil {
				t.Fatalf("the golden file does not parse: %s", fullError(err))
			}
			if diff := cmp.Diff(f, g, ignorePos, cmpopts.IgnoreFields(ast.File{}, "Name", "Comments")); diff != "" {
				t.Errorf("the golden file parses to another tree (-want +got):\n%s", diff)
			}
		})
	}
}

// testdataPolicies returns every .polar file under lang/testdata, including
// the checker's errors and policies.
func testdataPolicies(tb testing.TB) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir("../testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".polar") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestTestdata checks every policy under lang/testdata: those that parse
// round-trip through the printer; every error of those that do not lies
// inside the input.
func TestTestdata(t *testing.T) {
	for _, path := range testdataPolicies(t) {
		t.Run(path, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, src)
		})
	}
}
