package lang

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/printer"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/check")

// expectation is one `# ERROR "rx"` or `# WARNING "rx"` comment, optionally
// with a column (`# ERROR:13 "rx"`) and followed by `HINT "rx"`.
type expectation struct {
	warning bool
	line    int
	col     int // 0: any column
	msg     *regexp.Regexp
	hint    *regexp.Regexp
	matched bool
}

var expectRx = regexp.MustCompile(`(ERROR|WARNING)(?::(\d+))? "((?:[^"\\]|\\.)*)"(?:\s+HINT "((?:[^"\\]|\\.)*)")?`)

func parseExpectations(t *testing.T, src string) []*expectation {
	t.Helper()
	var out []*expectation
	for i, line := range strings.Split(src, "\n") {
		hash := strings.Index(line, "# ")
		if hash < 0 {
			continue
		}
		for _, m := range expectRx.FindAllStringSubmatch(line[hash:], -1) {
			e := &expectation{warning: m[1] == "WARNING", line: i + 1}
			if m[2] != "" {
				e.col, _ = strconv.Atoi(m[2])
			}
			e.msg = regexp.MustCompile(strings.ReplaceAll(m[3], `\"`, `"`))
			if m[4] != "" {
				e.hint = regexp.MustCompile(strings.ReplaceAll(m[4], `\"`, `"`))
			}
			out = append(out, e)
		}
	}
	return out
}

// TestErrors checks the inline expectations of testdata/errors/*.polar in
// both directions: every expected error and warning is reported at its
// line (with a matching hint when one is promised), and nothing else is.
func TestErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.polar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			expects := parseExpectations(t, string(src))
			prog, errs := compile([]File{{Filename: file, Src: src}})
			var warns ast.ErrorList
			if prog != nil {
				warns = prog.Warnings
			}
			match := func(e *ast.Error, warning bool) {
				for _, x := range expects {
					if x.warning == warning && x.line == e.Pos.Line && (x.col == 0 || x.col == e.Pos.Col) && x.msg.MatchString(e.Msg) {
						if x.hint != nil && !x.hint.MatchString(e.Hint) {
							t.Errorf("%s: hint %q does not match %q", e.Pos, e.Hint, x.hint)
						}
						x.matched = true
						return
					}
				}
				kind := "error"
				if warning {
					kind = "warning"
				}
				t.Errorf("unexpected %s %s", kind, e.Error())
			}
			for _, e := range errs {
				match(e, false)
			}
			for _, e := range warns {
				match(e, true)
			}
			for _, x := range expects {
				if !x.matched {
					kind := "ERROR"
					if x.warning {
						kind = "WARNING"
					}
					t.Errorf("%s:%d: expected %s %q, not reported", file, x.line, kind, x.msg)
				}
			}
		})
	}
}

// policySets returns the valid policies of testdata/policies: each .polar
// file alone, and each directory's files loaded together.
func policySets(tb testing.TB) map[string][]File {
	tb.Helper()
	sets := map[string][]File{}
	entries, err := os.ReadDir("testdata/policies")
	if err != nil {
		tb.Fatal(err)
	}
	read := func(path string) File {
		src, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		return File{Filename: path, Src: src}
	}
	for _, e := range entries {
		path := filepath.Join("testdata/policies", e.Name())
		switch {
		case e.IsDir():
			files, _ := filepath.Glob(filepath.Join(path, "*.polar"))
			for _, f := range files {
				sets[e.Name()] = append(sets[e.Name()], read(f))
			}
		case strings.HasSuffix(e.Name(), ".polar"):
			sets[strings.TrimSuffix(e.Name(), ".polar")] = []File{read(path)}
		}
	}
	return sets
}

// TestPolicies loads every valid policy of the corpus.
func TestPolicies(t *testing.T) {
	sets := policySets(t)
	if len(sets) < 20 {
		t.Errorf("corpus has %d policies, want at least 20", len(sets))
	}
	for name, srcs := range sets {
		t.Run(name, func(t *testing.T) {
			prog, err := Compile(srcs...)
			if err != nil {
				t.Fatalf("policy does not load:\n%s", err.(ast.ErrorList).Full())
			}
			for _, w := range prog.Warnings {
				t.Logf("warning: %s", w)
			}
			if len(prog.Rules[Pred{"allow", 3}]) == 0 {
				t.Error("no allow/3 rule")
			}
		})
	}
}

// TestGolden compares the desugared rules, fact types and metadata of
// selected policies with testdata/check/*.golden (-update rewrites them).
func TestGolden(t *testing.T) {
	sets := policySets(t)
	golden, _ := filepath.Glob("testdata/check/*.golden")
	names := map[string]bool{}
	for _, g := range golden {
		names[strings.TrimSuffix(filepath.Base(g), ".golden")] = true
	}
	for _, n := range []string{"reference", "gitcloud", "custom_roles", "files_folders", "global_roles", "extends", "section6", "entitlements_quota", "shorthand_conditions", "shorthand_each"} {
		names[n] = true
	}
	for name := range names {
		t.Run(name, func(t *testing.T) {
			srcs, ok := sets[name]
			if !ok {
				t.Fatalf("no policy %s in testdata/policies", name)
			}
			prog, err := Compile(srcs...)
			if err != nil {
				t.Fatal(err)
			}
			got := dump(prog)
			path := filepath.Join("testdata/check", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, lineDiff(string(want), got))
			}
		})
	}
}

// dump renders what the checker produced, deterministically.
func dump(p *Program) string {
	var b strings.Builder
	b.WriteString("# rules\n")
	for _, pred := range p.Predicates() {
		for _, r := range p.Rules[pred] {
			fmt.Fprintf(&b, "%s\n", r)
			if r.Text != r.String() {
				fmt.Fprintf(&b, "    # from %s\n", r.Text)
			}
		}
	}
	b.WriteString("\n# fact types\n")
	for _, pred := range p.Predicates() {
		if fts, ok := p.FactTypes[pred]; ok {
			fmt.Fprintf(&b, "%s %s\n", pred, formatFactTypes(fts))
		}
	}
	b.WriteString("\n# metadata\n")
	var types []string
	for name := range p.Metadata.Resources {
		types = append(types, name)
	}
	sort.Strings(types)
	for _, name := range types {
		m := p.Metadata.Resources[name]
		var rels []string
		for r, t := range m.Relations {
			rels = append(rels, r+": "+t)
		}
		sort.Strings(rels)
		fmt.Fprintf(&b, "%s roles=%v permissions=%v relations={%s}\n", name, m.Roles, m.Permissions, strings.Join(rels, ", "))
	}
	if len(p.Tests) > 0 {
		b.WriteString("\n# tests\n")
	}
	for _, tc := range p.Tests {
		fmt.Fprintf(&b, "test %q\n", tc.Name)
		for _, f := range tc.Facts {
			fmt.Fprintf(&b, "    fact %s\n", f)
		}
		for _, a := range tc.Assertions {
			fmt.Fprintf(&b, "    %s\n", a.Text)
		}
	}
	return b.String()
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
		}
	}
	return b.String()
}

// TestPrintedPoliciesMeanTheSame checks that `castellan policy fmt` never
// changes what a policy means: every corpus policy, printed in canonical
// form, checks to the same rules, fact types, metadata and tests.
func TestPrintedPoliciesMeanTheSame(t *testing.T) {
	for name, srcs := range policySets(t) {
		t.Run(name, func(t *testing.T) {
			want, err := Compile(srcs...)
			if err != nil {
				t.Fatal(err)
			}
			printed := make([]File, len(srcs))
			for i, s := range srcs {
				f, err := parser.Parse(s.Filename, s.Src)
				if err != nil {
					t.Fatal(err)
				}
				printed[i] = File{Filename: s.Filename, Src: []byte(printer.String(f))}
			}
			got, err := Compile(printed...)
			if err != nil {
				t.Fatalf("printed policy does not check: %v", err)
			}
			if d := lineDiff(dump(want), dump(got)); d != "" {
				t.Errorf("printing changed the policy:\n%s", d)
			}
		})
	}
}
