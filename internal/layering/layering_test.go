package layering

import (
	"os/exec"
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
}

var rules = []rule{
	{from: "lang/term", forbidden: []string{"lang/ast", "lang/parser", "lang/printer", "evaluator", "store", "server", "cmd", "clients"}, onlyThirdParty: []string{}},
	{from: "lang", forbidden: []string{"evaluator", "store", "server", "cmd", "clients"}, onlyThirdParty: []string{"github.com/alecthomas/participle"}},
	{from: "evaluator", forbidden: []string{"store", "server", "cmd", "clients"}},
	{from: "store", forbidden: []string{"evaluator", "server", "cmd", "clients"}},
	{from: "migrations", forbidden: []string{"lang", "evaluator", "store", "server", "cmd", "clients"}},
	{from: "server", forbidden: []string{"cmd", "clients"}},
	{from: "clients/go", forbidden: []string{"lang", "evaluator", "store", "server", "cmd", "migrations"}, onlyThirdParty: []string{}},
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		for _, r := range rules {
			if !under(pkg, r.from) {
				continue
			}
			seen++
			for _, dep := range fields[1:] {
				if rel, ok := strings.CutPrefix(dep, module+"/"); ok {
					for _, f := range r.forbidden {
						if under(rel, f) && !under(rel, r.from) {
							t.Errorf("%s must not depend on %s", pkg, rel)
						}
					}
					continue
				}
				if r.onlyThirdParty != nil && isThirdParty(dep) && !hasPrefix(dep, r.onlyThirdParty) {
					t.Errorf("%s must not depend on third-party package %s", pkg, dep)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no package matched any rule: is the module path right?")
	}
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
