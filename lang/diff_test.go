package lang

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustCompileFile(tb testing.TB, path string) *Program {
	tb.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := Compile(File{Filename: filepath.Base(path), Src: src})
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return p
}

// TestDiffGolden compares testdata/diff/NAME/a.polar with b.polar; the
// printed diff is NAME/diff.golden (empty: the same in structure). Run
// with -update to rewrite the goldens.
func TestDiffGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/diff/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no diff cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			a := mustCompileFile(t, filepath.Join(dir, "a.polar"))
			b := mustCompileFile(t, filepath.Join(dir, "b.polar"))
			d := DiffPrograms(a, b)
			got := d.String()
			if d.Empty() != (got == "") {
				t.Errorf("Empty() = %t but String() = %q", d.Empty(), got)
			}
			golden := filepath.Join(dir, "diff.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("diff of %s (-want +got):\n%s", dir, d)
			}
			if back := DiffPrograms(b, a); back.Empty() != d.Empty() {
				t.Errorf("the reverse diff is empty: %t, the diff: %t", back.Empty(), d.Empty())
			}
			if self := DiffPrograms(b, b); !self.Empty() {
				t.Errorf("a program differs from itself:\n%s", self)
			}
		})
	}
}
