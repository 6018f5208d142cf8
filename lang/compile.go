package lang

import (
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
)

// File is one policy file: its name (used in error positions) and text.
type File struct {
	Filename string
	Src      []byte
}

// Compile parses every source and checks them together as one policy. The
// error, when not nil, is an ast.ErrorList of every problem in every file,
// sorted by position. When a file does not parse, only syntax errors are
// reported: checking a partial policy would report names as undeclared
// that the broken items declare.
func Compile(sources ...File) (*Program, error) {
	prog, errs := compile(sources)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return prog, nil
}

// compile returns the program (incomplete when there are errors) and the
// errors; warnings are in the program.
func compile(sources []File) (*Program, ast.ErrorList) {
	var errs ast.ErrorList
	files := make([]*ast.File, 0, len(sources))
	c := newChecker()
	c.sources = make(map[string][]byte, len(sources))
	for _, s := range sources {
		f, err := parser.Parse(s.Filename, s.Src)
		if err != nil {
			if l, ok := err.(ast.ErrorList); ok {
				errs = append(errs, l...)
			} else {
				errs.Add(ast.Position{File: s.Filename}, err.Error(), "")
			}
		}
		files = append(files, f)
		if _, dup := c.sources[s.Filename]; dup {
			// Two sources of one name: positions cannot tell them apart,
			// so the checks that read the source stay quiet for both.
			c.sources[s.Filename] = nil
		} else {
			c.sources[s.Filename] = s.Src
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return c.run(files)
}
