package evaluator

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang"
)

// TestPolicyCorpusTests runs the test blocks of every valid policy of the
// language corpus (lang/testdata/policies: the Oso Cloud modeling guides
// and sample applications). A directory is one policy of several files.
func TestPolicyCorpusTests(t *testing.T) {
	// Assertions of the corpus that are wrong under any reading of the
	// dialect (reported to the corpus owner): file:line -> why.
	knownWrong := map[string]string{
		"section6.polar:88": `User{"a"} owns acme, and owners may audit: allow(_: User, "audit", acme) holds`,
	}
	const dir = "../lang/testdata/policies"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no policy corpus: %v", err)
	}
	for _, ent := range entries {
		path := filepath.Join(dir, ent.Name())
		var files []string
		if ent.IsDir() {
			files, _ = filepath.Glob(filepath.Join(path, "*.polar"))
		} else if strings.HasSuffix(ent.Name(), ".polar") {
			files = []string{path}
		}
		if len(files) == 0 {
			continue
		}
		t.Run(strings.TrimSuffix(ent.Name(), ".polar"), func(t *testing.T) {
			var srcs []lang.File
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				srcs = append(srcs, lang.File{Filename: f, Src: b})
			}
			prog, err := lang.Compile(srcs...)
			if err != nil {
				t.Skipf("does not compile (the checker's concern): %v", err)
			}
			for _, r := range New(prog).RunTests(t.Context()) {
				for _, f := range r.Failures {
					if why, ok := knownWrong[filepath.Base(f.Pos.File)+":"+strconv.Itoa(f.Pos.Line)]; ok {
						t.Logf("%s: known wrong assertion (%s): %s", f.Pos, why, f.Message)
						continue
					}
					t.Errorf("%s: test %q: %s: %s", f.Pos, r.Name, f.Assertion, f.Message)
				}
			}
		})
	}
}
