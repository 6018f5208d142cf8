package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCompile checks that no source makes the checker fail internally:
// whatever parses is checked without a panic, and every error it reports
// is positioned in the file.
func FuzzCompile(f *testing.F) {
	for _, pattern := range []string{"testdata/policies/*.polar", "testdata/policies/*/*.polar", "testdata/errors/*.polar"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		prog, errs := compile([]File{{Filename: "fuzz.polar", Src: src}})
		for _, e := range errs {
			if strings.Contains(e.Msg, "internal") {
				t.Fatalf("internal error: %s", e.Error())
			}
			if e.Pos.File != "fuzz.polar" {
				t.Errorf("error outside the file: %s", e.Error())
			}
		}
		if len(errs) == 0 && prog == nil {
			t.Fatal("no program and no error")
		}
	})
}
