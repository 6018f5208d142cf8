package policy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// File is one file of a policy: its name and its Polar source.
type File = store.PolicyFile

// Compiled is one policy ready to answer: its checked program and its
// evaluator. It is immutable and safe for concurrent use.
type Compiled struct {
	version int64 // 0: not a stored version (the empty policy, or not saved yet)
	files   []File
	digest  [sha256.Size]byte
	prog    *lang.Program
	eval    *evaluator.Evaluator
	factOpt store.WriteOption // FactWriteOption of a stored version
}

// Version returns the stored version of the policy; 0 for the empty policy
// (before any load) and for a policy compiled but not saved.
func (c *Compiled) Version() int64 { return c.version }

// Files returns the policy's files, in order; nil for the empty policy.
// The caller must not modify them.
func (c *Compiled) Files() []File { return c.files }

// Program returns the checked program (metadata, warnings, tests).
func (c *Compiled) Program() *lang.Program { return c.prog }

// Evaluator returns the evaluator that answers under the policy.
func (c *Compiled) Evaluator() *evaluator.Evaluator { return c.eval }

// FactValidator returns the check of written facts under this policy:
// facts must be ones the policy can use. It is nil when the policy is not a
// stored version, as the empty policy before any load: then any
// well-formed fact may be stored.
func (c *Compiled) FactValidator() func(term.Fact) error {
	if c.version == 0 {
		return nil
	}
	return c.prog.CheckFact
}

// noFactCheck is the write option of a policy that checks no fact.
var noFactCheck = store.WithValidator(nil)

// FactWriteOption returns the write option that checks written facts
// under this policy (store.WithValidator of FactValidator), made once for
// the policy rather than for each write.
func (c *Compiled) FactWriteOption() store.WriteOption {
	if c.factOpt == nil {
		return noFactCheck
	}
	return c.factOpt
}

// ContextFactValidator returns the check of context facts under this
// policy (lang.Program.CheckContextFact), nil when FactValidator is nil.
func (c *Compiled) ContextFactValidator() func(term.Fact) error {
	if c.version == 0 {
		return nil
	}
	return c.prog.CheckContextFact
}

// RunTests runs the policy's test blocks, each against an isolated fact
// source holding only its setup facts, and returns every test's result.
func (c *Compiled) RunTests(ctx context.Context) []evaluator.TestResult {
	return c.eval.RunTests(ctx)
}

// withVersion returns a copy of c as stored version v.
func (c *Compiled) withVersion(v int64) *Compiled {
	out := *c
	out.version = v
	out.factOpt = store.WithValidator(out.FactValidator())
	return &out
}

// Compile checks files as one policy and runs its tests. A policy that does
// not compile returns an ast.ErrorList of every problem; one whose tests
// fail a *TestsFailedError. The result is not a stored version (Version 0).
func Compile(ctx context.Context, files []File) (*Compiled, error) {
	c, err := CompileOnly(files)
	if err != nil {
		return nil, err
	}
	if err := testsError(c.RunTests(ctx)); err != nil {
		return nil, err
	}
	return c, nil
}

// CompileOnly checks files as one policy without running its tests. Its
// error, when not nil, is an ast.ErrorList.
func CompileOnly(files []File) (*Compiled, error) {
	srcs := make([]lang.File, len(files))
	for i, f := range files {
		srcs[i] = lang.File{Filename: f.Filename, Src: []byte(f.Src)}
	}
	prog, err := lang.Compile(srcs...)
	if err != nil {
		return nil, err
	}
	return &Compiled{files: files, digest: digest(files), prog: prog, eval: evaluator.New(prog)}, nil
}

// empty returns the policy that answers before any is loaded: everything
// is denied and every well-formed fact may be stored.
func empty() (*Compiled, error) {
	prog, err := lang.Compile()
	if err != nil {
		return nil, fmt.Errorf("compiling the empty policy: %w", err)
	}
	return &Compiled{prog: prog, eval: evaluator.New(prog)}, nil
}

// digest identifies a policy's source, to detect unchanged uploads.
func digest(files []File) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%d:%s%d:%s", len(f.Filename), f.Filename, len(f.Src), f.Src)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Errors of the policy lifecycle.
var (
	// ErrInvalidFiles is wrapped by the error of files that cannot make a
	// policy: too many, a filename missing or given twice. Its message
	// names the file by its index ("files[1]: ...").
	ErrInvalidFiles = errors.New("invalid policy files")
)

// MaxFiles bounds the number of files of one policy.
const MaxFiles = 1000

// filesError is an ErrInvalidFiles with its own message.
type filesError struct{ msg string }

func (e *filesError) Error() string { return e.msg }

func (e *filesError) Unwrap() error { return ErrInvalidFiles }

func invalidFiles(format string, args ...any) error {
	return &filesError{msg: fmt.Sprintf(format, args...)}
}

// ValidateFiles checks that files can make one policy: at most MaxFiles,
// each with a filename, no filename twice. The error wraps ErrInvalidFiles.
func ValidateFiles(files []File) error {
	if len(files) > MaxFiles {
		return invalidFiles("files: %d files exceed the limit of %d", len(files), MaxFiles)
	}
	seen := make(map[string]bool, len(files))
	for i, f := range files {
		if strings.TrimSpace(f.Filename) == "" {
			return invalidFiles("files[%d]: filename is required", i)
		}
		if seen[f.Filename] {
			return invalidFiles("files[%d]: filename %q appears twice", i, f.Filename)
		}
		seen[f.Filename] = true
	}
	return nil
}

// TestsFailedError reports a policy whose tests fail; the policy was not
// loaded.
type TestsFailedError struct {
	// Results holds every test's result, passed ones included.
	Results []evaluator.TestResult
}

// Error lists every failed assertion, one per line:
// file:line:col: test "name": assertion: message.
func (e *TestsFailedError) Error() string {
	var b strings.Builder
	for _, f := range e.Failures() {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d:%d: test %q: %s", f.Pos.File, f.Pos.Line, f.Pos.Col, f.Test, f.Message)
	}
	return b.String()
}

// Failed counts the tests that failed.
func (e *TestsFailedError) Failed() int {
	n := 0
	for _, tr := range e.Results {
		if len(tr.Failures) > 0 || tr.Passed != tr.Total {
			n++
		}
	}
	return n
}

// Failure is one failed assertion of a test, or a failed test that names
// no assertion.
type Failure struct {
	// Test is the test's name.
	Test string
	// Pos is the assertion's position, else the test's.
	Pos ast.Position
	// Message is the assertion and, after ": ", why it failed.
	Message string
}

// Failures lists every failure, in test order.
func (e *TestsFailedError) Failures() []Failure {
	var out []Failure
	for _, tr := range e.Results {
		for _, f := range tr.Failures {
			pos := f.Pos
			if !pos.IsValid() {
				pos = tr.Pos
			}
			msg := f.Assertion
			if f.Message != "" {
				msg += ": " + f.Message
			}
			out = append(out, Failure{Test: tr.Name, Pos: pos, Message: msg})
		}
		if len(tr.Failures) == 0 && tr.Passed != tr.Total {
			out = append(out, Failure{Test: tr.Name, Pos: tr.Pos, Message: fmt.Sprintf("%d of %d assertions passed", tr.Passed, tr.Total)})
		}
	}
	return out
}

// testsError returns a *TestsFailedError when a test failed, or nil.
func testsError(results []evaluator.TestResult) error {
	e := &TestsFailedError{Results: results}
	if e.Failed() == 0 {
		return nil
	}
	return e
}
