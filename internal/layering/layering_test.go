package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/castellan-authz/castellan"

// rule forbids packages under from (prefix, module-relative) to depend,
// directly or not, on any package under one of the forbidden prefixes.
type rule struct {
	from      string
	forbidden []string
	// onlyThirdParty, when set, lists the only non-stdlib, non-module
	// dependencies allowed (prefixes).
	onlyThirdParty []string
	// forbiddenStd lists standard-library packages that neither the package
	// nor any module package it depends on may import. Third-party code may:
	// participle's lexer imports encoding/json, and lang needs participle.
	forbiddenStd []string
}

// wire is what the language and the evaluator must not import: the wire
// format and the endpoints belong to server (and clients/go).
var wire = []string{"encoding/json", "net/http"}

var rules = []rule{
	{from: "lang/term", forbidden: []string{"lang/ast", "lang/parser", "lang/printer", "evaluator", "store", "policy", "server", "cmd", "clients"}, onlyThirdParty: []string{}},
	{from: "lang", forbidden: []string{"evaluator", "store", "policy", "server", "cmd", "clients"}, onlyThirdParty: []string{"github.com/alecthomas/participle"}, forbiddenStd: wire},
	{from: "evaluator", forbidden: []string{"store", "policy", "server", "cmd", "clients", "localauth"}, forbiddenStd: wire},
	{from: "localauth", forbidden: []string{"store", "policy", "server", "cmd", "clients"}},
	{from: "store", forbidden: []string{"evaluator", "policy", "server", "cmd", "clients"}},
	{from: "store/index", forbidden: []string{"store/memory", "store/postgres", "migrations"}, onlyThirdParty: []string{}, forbiddenStd: append([]string{"database/sql"}, wire...)},
	{from: "store/postgres", forbidden: []string{"store/memory"}},
	{from: "migrations", forbidden: []string{"lang", "evaluator", "store", "policy", "server", "cmd", "clients"}},
	{from: "policy", forbidden: []string{"server", "cmd", "clients"}, forbiddenStd: wire},
	{from: "audit", forbidden: []string{"lang", "evaluator", "localauth", "store", "policy", "server", "cmd", "clients", "migrations"}, onlyThirdParty: []string{}},
	{from: "server", forbidden: []string{"cmd", "clients"}},
	// shadow replays decisions under a candidate policy: it reads the
	// decision log (audit) and evaluates compiled policies; it knows
	// nothing of HTTP and compiles nothing itself.
	{from: "shadow", forbidden: []string{"server", "cmd", "clients", "localauth", "store/memory", "store/postgres", "migrations"}, forbiddenStd: []string{"net/http"}},
	// identity verifies credentials; it knows nothing of routing, Polar
	// values or the store.
	{from: "identity", forbidden: []string{"lang", "evaluator", "store", "policy", "server", "cmd", "clients", "localauth"}, onlyThirdParty: []string{"github.com/golang-jwt/jwt", "github.com/MicahParks/", "golang.org/x/time"}},
	// gitpolicy follows a git repository and loads its commits through
	// policy; the server knows nothing of it (serve wires it), and neither
	// the policy lifecycle nor anything below depends on git.
	{from: "gitpolicy", forbidden: []string{"server", "cmd", "clients", "store/memory", "store/postgres", "migrations", "localauth", "identity", "audit"}, forbiddenStd: wire},
	{from: "policy", forbidden: []string{"gitpolicy"}},
	{from: "server", forbidden: []string{"gitpolicy"}},
	{from: "store", forbidden: []string{"gitpolicy"}},
	// cputime reads CPU clocks for benchmarks; it knows nothing of the rest.
	{from: "internal/cputime", forbidden: []string{"lang", "evaluator", "store", "policy", "server", "cmd", "clients", "audit", "identity"}, onlyThirdParty: []string{}},
	// gctune sizes the collector's headroom; it knows nothing of the rest.
	{from: "internal/gctune", forbidden: []string{"lang", "evaluator", "store", "policy", "server", "cmd", "clients", "audit", "identity"}, onlyThirdParty: []string{}},
	// tick runs background loops; it knows nothing of the rest.
	{from: "internal/tick", forbidden: []string{"lang", "evaluator", "store", "policy", "server", "cmd", "clients", "audit", "identity"}, onlyThirdParty: []string{}},
	{from: "clients/go", forbidden: []string{"lang", "evaluator", "store", "policy", "server", "cmd", "migrations"}, onlyThirdParty: []string{}},
}

// confined lists third-party modules that only the packages under one of
// the given prefixes may depend on: a tool's dependency stays out of the
// server.
var confined = []confinement{
	// The load generator's HTTP client (castellan-load -client fasthttp);
	// the server and the Go client use net/http.
	{dep: "github.com/valyala/fasthttp", only: []string{"cmd/castellan-load"}},
}

// confinement is one entry of confined.
type confinement struct {
	dep  string   // a module path prefix
	only []string // module-relative package prefixes
}

// checkConfined returns the packages of pkgs that depend on a confined
// module outside its prefixes.
func checkConfined(pkgs []pkg, cs []confinement) (errs []string) {
	for _, p := range pkgs {
		for _, c := range cs {
			if slices.ContainsFunc(c.only, func(dir string) bool { return under(p.path, dir) }) {
				continue
			}
			if i := slices.IndexFunc(p.deps, func(d string) bool { return d == c.dep || strings.HasPrefix(d, c.dep+"/") }); i >= 0 {
				errs = append(errs, p.path+" must not depend on "+p.deps[i]+" (only "+strings.Join(c.only, ", ")+" may)")
			}
		}
	}
	return errs
}

// TestCheckConfined checks that a confined module is allowed under its
// prefixes only, whether imported directly or through another package.
func TestCheckConfined(t *testing.T) {
	pkgs := []pkg{
		{path: "cmd/tool", deps: []string{"example.com/fast", "example.com/fast/sub"}},
		{path: "cmd/tool/inner", deps: []string{"example.com/fast"}},
		{path: "server", deps: []string{"fmt", "example.com/fast/sub"}},
		{path: "store", deps: []string{"example.com/faster"}},
	}
	errs := checkConfined(pkgs, []confinement{{dep: "example.com/fast", only: []string{"cmd/tool"}}})
	want := []string{"server must not depend on example.com/fast/sub (only cmd/tool may)"}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("checkConfined = %q, want %q", errs, want)
	}
}

// pkg is one module package as go list describes it, paths module-relative
// for the module's own packages.
type pkg struct {
	path    string
	imports []string // direct imports, full paths
	deps    []string // every dependency, full paths
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \",\"}} {{join .Deps \",\"}}", module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Split(line, " ")
		if len(fields) != 3 {
			continue
		}
		pkgs = append(pkgs, pkg{
			path:    strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/"),
			imports: splitList(fields[1]),
			deps:    splitList(fields[2]),
		})
	}
	errs, seen := check(pkgs, rules)
	errs = append(errs, checkConfined(pkgs, confined)...)
	for _, e := range errs {
		t.Error(e)
	}
	if seen == 0 {
		t.Fatal("no package matched any rule: is the module path right?")
	}
}

// TestCheckForbiddenStd checks that a standard-library import is caught in
// the package itself and in a module package it depends on, but not in
// third-party code.
func TestCheckForbiddenStd(t *testing.T) {
	pkgs := []pkg{
		{path: "a", imports: []string{"fmt", module + "/b"}, deps: []string{"fmt", module + "/b", "encoding/json"}},
		{path: "b", imports: []string{"encoding/json"}, deps: []string{"encoding/json"}},
		{path: "c", imports: []string{"example.com/x"}, deps: []string{"example.com/x", "encoding/json"}},
		{path: "d", imports: []string{"encoding/json"}, deps: []string{"encoding/json"}},
	}
	rs := []rule{{from: "a", forbiddenStd: []string{"encoding/json"}}, {from: "c", forbiddenStd: []string{"encoding/json"}}}
	errs, seen := check(pkgs, rs)
	want := []string{"a must not depend on encoding/json (imported by b)"}
	if seen != 2 || strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("check = %q, %d; want %q, 2", errs, seen, want)
	}
}

// check applies rs to pkgs; it returns the violations and how many
// (package, rule) pairs applied.
func check(pkgs []pkg, rs []rule) (errs []string, seen int) {
	imports := make(map[string][]string, len(pkgs))
	for _, p := range pkgs {
		imports[p.path] = p.imports
	}
	for _, p := range pkgs {
		for _, r := range rs {
			if !under(p.path, r.from) {
				continue
			}
			seen++
			for _, std := range r.forbiddenStd {
				if by, ok := importer(p.path, p.deps, imports, std); ok {
					errs = append(errs, p.path+" must not depend on "+std+" (imported by "+by+")")
				}
			}
			for _, dep := range p.deps {
				if rel, ok := strings.CutPrefix(dep, module+"/"); ok {
					for _, f := range r.forbidden {
						if under(rel, f) && !under(rel, r.from) {
							errs = append(errs, p.path+" must not depend on "+rel)
						}
					}
					continue
				}
				if r.onlyThirdParty != nil && isThirdParty(dep) && !hasPrefix(dep, r.onlyThirdParty) {
					errs = append(errs, p.path+" must not depend on third-party package "+dep)
				}
			}
		}
	}
	return errs, seen
}

// importer returns the first of path and its module dependencies that
// imports std directly.
func importer(path string, deps []string, imports map[string][]string, std string) (string, bool) {
	candidates := []string{path}
	for _, d := range deps {
		if rel, ok := strings.CutPrefix(d, module+"/"); ok {
			candidates = append(candidates, rel)
		}
	}
	for _, c := range candidates {
		for _, imp := range imports[c] {
			if imp == std {
				return c, true
			}
		}
	}
	return "", false
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// under reports whether pkg is dir or inside it.
func under(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

func isThirdParty(dep string) bool {
	first, _, _ := strings.Cut(dep, "/")
	return strings.Contains(first, ".")
}

func hasPrefix(dep string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(dep, p) {
			return true
		}
	}
	return false
}

// TestNoWireTags checks that lang, evaluator and policy name no wire
// format: no struct field of theirs carries a json tag (server owns its
// response types).
func TestNoWireTags(t *testing.T) {
	for _, dir := range []string{"../../lang", "../../evaluator", "../../policy"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if fld, ok := n.(*ast.Field); ok && fld.Tag != nil && strings.Contains(fld.Tag.Value, "json:") {
					t.Errorf("%s: field tag %s: the wire format belongs to server", path, fld.Tag.Value)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
