package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// compilers are the functions that compile a policy: lang.Compile and
// lang.Check turn Polar into a checked program, and evaluator.New builds
// the evaluator that answers under it. Compiling a policy means calling
// one of them; running a compiled policy's tests or queries does not.
var compilers = map[string][]string{
	module + "/lang":      {"Compile", "Check"},
	module + "/evaluator": {"New"},
}

// mayCompile lists the packages (module-relative) whose non-test code may
// call a compiler: policy, the lifecycle every other package goes through.
// (lang and evaluator call their own functions unqualified, which this
// test does not look at.)
var mayCompile = []string{"policy"}

// TestOnlyPolicyCompiles fails when the non-test code of any other package
// calls lang.Compile, lang.Check or evaluator.New: the server, the file
// watcher and the CLI compile through policy, so that compilation is
// written once. Tests (and testdata) may compile directly.
func TestOnlyPolicyCompiles(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		if allowed(filepath.ToSlash(rel)) {
			return nil
		}
		files++
		for _, call := range compilerCalls(t, path) {
			t.Errorf("%s: calls %s: only policy compiles policies (use policy.Compile, policy.CompileOnly or a policy.Manager)", call.pos, call.name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no Go file checked: is the module root right?")
	}
}

// allowed reports whether the package in dir (module-relative) may compile.
func allowed(dir string) bool {
	for _, p := range mayCompile {
		if dir == p {
			return true
		}
	}
	return false
}

type compilerCall struct {
	pos  token.Position
	name string
}

// compilerCalls returns every use of a compiler in the file at path,
// through whatever name the file imports its package under.
func compilerCalls(t *testing.T, path string) []compilerCall {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	names := map[string][]string{} // local import name -> compiler functions
	for _, imp := range f.Imports {
		ipath, _ := strconv.Unquote(imp.Path.Value)
		funcs, ok := compilers[ipath]
		if !ok {
			continue
		}
		name := ipath[strings.LastIndex(ipath, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = funcs
	}
	if len(names) == 0 {
		return nil
	}
	var out []compilerCall
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		for _, fn := range names[x.Name] {
			if sel.Sel.Name == fn {
				out = append(out, compilerCall{pos: fset.Position(sel.Pos()), name: x.Name + "." + fn})
			}
		}
		return true
	})
	return out
}
