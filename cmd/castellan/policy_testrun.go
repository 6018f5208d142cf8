package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/policy"
)

// runPolicyTest is `castellan policy test [-v] [--format text|junit|json]
// [-o FILE] FILE...`: compile the files together as one policy and run its
// test blocks offline, each against an isolated fact source holding only
// its setup facts. The report is grouped by test: each failed test (every
// test with -v) and under it each failed assertion with its derivation
// (why the call held for a failed assert_not, where each rule tried
// failed for a failed assert). --format junit writes JUnit XML (one
// testsuite per file, one testcase per test) and --format json a report
// for programs. It exits 1 when a test failed or the policy does not
// compile (the JUnit and JSON reports then carry the errors).
func runPolicyTest(ctx context.Context, e *env, args []string) error {
	fs := newPolicyFlagSet(e, "policy test",
		"usage: castellan policy test [-v] [--format text|junit|json] [-o FILE] FILE...",
		"Runs the policy's test blocks offline, without a server, and reports each test.")
	verbose := fs.Bool("v", false, "text: list the tests that passed too")
	format := fs.String("format", "text", "report `format`: text, junit (JUnit XML, for CI) or json")
	output := fs.String("o", "", "write the report to `FILE` instead of standard output")
	names, err := parsePolicyFiles(fs, args, "policy test needs at least one file")
	if err != nil {
		return helpOr(err)
	}
	if *format != "text" && *format != "junit" && *format != "json" {
		return usageError("policy test: --format %q: want text, junit or json", *format)
	}
	var r testReport
	if *format == "text" {
		c, err := compilePolicy(e, names)
		if err != nil {
			return err
		}
		r.Results = c.RunTests(ctx)
	} else {
		files, err := readPolicyFiles(names)
		if err != nil {
			return err
		}
		c, err := policy.CompileOnly(files)
		if list, ok := errors.AsType[ast.ErrorList](err); ok {
			r.Errors = list
		} else if err != nil {
			return err
		} else {
			r.Results = c.RunTests(ctx)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer
	switch *format {
	case "junit":
		err = r.writeJUnit(&buf)
	case "json":
		err = printJSON(&buf, r.jsonReport())
	default:
		r.writeText(&buf, *verbose)
	}
	if err != nil {
		return err
	}
	if *output != "" {
		if err := os.WriteFile(*output, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("policy test: %w", err)
		}
		if *format != "text" {
			fmt.Fprintln(e.stderr, r.summary())
		}
	} else if _, err := e.stdout.Write(buf.Bytes()); err != nil {
		return err
	}
	if len(r.Errors) > 0 || r.failed() > 0 {
		return errFailed
	}
	return nil
}

// testReport is the outcome of one `policy test`: the policy's errors
// when it does not compile, else every test's result.
type testReport struct {
	Errors  ast.ErrorList
	Results []evaluator.TestResult
}

func (r testReport) failed() int {
	n := 0
	for _, t := range r.Results {
		if !t.OK() {
			n++
		}
	}
	return n
}

func (r testReport) summary() string {
	if len(r.Errors) > 0 {
		return countOf(len(r.Errors), "error") + ": the policy does not compile"
	}
	return fmt.Sprintf("%d passed, %d failed", len(r.Results)-r.failed(), r.failed())
}

// writeText writes the report grouped by test: a line per failed test
// (per test with verbose), its failed assertions and their derivations
// indented below it, then the summary.
func (r testReport) writeText(w io.Writer, verbose bool) {
	for _, t := range r.Results {
		if t.OK() {
			if verbose {
				fmt.Fprintf(w, "ok    test %q (%s): %s\n", t.Name, t.Pos, countOf(t.Total, "assertion"))
			}
			continue
		}
		fmt.Fprintf(w, "FAIL  test %q (%s): %d of %s held\n", t.Name, t.Pos, t.Passed, countOf(t.Total, "assertion"))
		for _, f := range t.Failures {
			fmt.Fprintf(w, "  %s: %s: %s\n", f.Pos, f.Assertion, f.Message)
			if f.Derivation != nil {
				writeDerivation(w, f, "      ")
			}
		}
	}
	fmt.Fprintln(w, r.summary())
}

// writeDerivation writes the derivation of a failed assertion, each line
// after indent.
func writeDerivation(w io.Writer, f evaluator.TestFailure, indent string) {
	what := "where it failed:"
	if f.Derivation.Holds {
		what = "why it held:"
	}
	fmt.Fprintf(w, "%s%s\n", indent[:len(indent)-2], what)
	var b bytes.Buffer
	printExplanation(&b, clientExplanation(f.Derivation))
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Fprintf(w, "%s%s\n", indent, line)
	}
}

// clientExplanation converts the derivation of a test assertion to the
// client's explanation, which the CLI renders (printExplanation) and
// encodes as the API does. A test's facts are its setup facts: their
// origin is "setup".
func clientExplanation(x *evaluator.Explanation) *castellan.Explanation {
	if x == nil {
		return nil
	}
	out := &castellan.Explanation{Goal: x.Goal, Holds: x.Holds, Failed: x.Failed}
	if x.Fact != nil {
		out.Fact = &castellan.FactUse{Fact: x.Fact.Fact, Origin: "setup"}
	}
	if x.Rule != nil {
		out.Rule = &castellan.RuleUse{Source: x.Rule.Text, Position: x.Rule.Position}
	}
	for _, p := range x.Premises {
		out.Premises = append(out.Premises, clientExplanation(p))
	}
	for _, t := range x.Tried {
		out.Tried = append(out.Tried, clientExplanation(t))
	}
	return out
}

// The JSON report of --format json.
type (
	jsonTestReport struct {
		Passed int             `json:"passed"`
		Failed int             `json:"failed"`
		Errors []jsonTestError `json:"errors,omitempty"`
		Tests  []jsonTest      `json:"tests"`
	}
	jsonTestError struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Message string `json:"message"`
		Hint    string `json:"hint,omitempty"`
	}
	jsonTest struct {
		Name       string            `json:"name"`
		File       string            `json:"file"`
		Line       int               `json:"line"`
		Column     int               `json:"column"`
		OK         bool              `json:"ok"`
		Assertions int               `json:"assertions"`
		Held       int               `json:"held"`
		Failures   []jsonTestFailure `json:"failures,omitempty"`
	}
	jsonTestFailure struct {
		Assertion  string                 `json:"assertion"`
		File       string                 `json:"file"`
		Line       int                    `json:"line"`
		Column     int                    `json:"column"`
		Message    string                 `json:"message"`
		Derivation *castellan.Explanation `json:"derivation,omitempty"`
	}
)

func (r testReport) jsonReport() jsonTestReport {
	out := jsonTestReport{Passed: len(r.Results) - r.failed(), Failed: r.failed(), Tests: []jsonTest{}}
	for _, e := range r.Errors {
		out.Errors = append(out.Errors, jsonTestError{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg, Hint: e.Hint})
	}
	for _, t := range r.Results {
		jt := jsonTest{Name: t.Name, File: t.Pos.File, Line: t.Pos.Line, Column: t.Pos.Col, OK: t.OK(), Assertions: t.Total, Held: t.Passed}
		for _, f := range t.Failures {
			jt.Failures = append(jt.Failures, jsonTestFailure{Assertion: f.Assertion, File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col,
				Message: f.Message, Derivation: clientExplanation(f.Derivation)})
		}
		out.Tests = append(out.Tests, jt)
	}
	return out
}

// The JUnit XML of --format junit: one testsuite per policy file, one
// testcase per test (classname: the file), a failure per failed test
// listing its assertions and derivations; a policy that does not compile
// is one testcase "compile" with an error.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		File      string        `xml:"file,attr,omitempty"`
		Line      int           `xml:"line,attr,omitempty"`
		Failure   *junitProblem `xml:"failure,omitempty"`
		Error     *junitProblem `xml:"error,omitempty"`
	}
	junitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",cdata"`
	}
)

func (r testReport) writeJUnit(w io.Writer) error {
	out := junitSuites{Name: "castellan policy test"}
	if len(r.Errors) > 0 {
		var text strings.Builder
		printPolicyErrors(&text, r.Errors, "")
		first := r.Errors[0]
		out.Suites = []junitSuite{{Name: first.Pos.File, Tests: 1, Errors: 1, Cases: []junitCase{{
			Name: "compile", Classname: first.Pos.File, File: first.Pos.File, Line: first.Pos.Line,
			Error: &junitProblem{Message: r.summary() + ": " + first.Error(), Type: "compile", Text: text.String()},
		}}}}
		out.Tests, out.Errors = 1, 1
	}
	index := map[string]int{}
	for _, t := range r.Results {
		file := t.Pos.File
		i, ok := index[file]
		if !ok {
			i = len(out.Suites)
			index[file] = i
			out.Suites = append(out.Suites, junitSuite{Name: file})
		}
		s := &out.Suites[i]
		c := junitCase{Name: t.Name, Classname: file, File: file, Line: t.Pos.Line}
		if !t.OK() {
			var text bytes.Buffer
			for _, f := range t.Failures {
				fmt.Fprintf(&text, "%s: %s: %s\n", f.Pos, f.Assertion, f.Message)
				if f.Derivation != nil {
					writeDerivation(&text, f, "    ")
				}
			}
			msg := fmt.Sprintf("%d of %s held", t.Passed, countOf(t.Total, "assertion"))
			if len(t.Failures) > 0 {
				f := t.Failures[0]
				msg = fmt.Sprintf("%s: %s: %s", f.Pos, f.Assertion, f.Message)
			}
			c.Failure = &junitProblem{Message: msg, Type: "assertion", Text: text.String()}
			s.Failures++
			out.Failures++
		}
		s.Tests++
		out.Tests++
		s.Cases = append(s.Cases, c)
	}
	if out.Suites == nil {
		out.Suites = []junitSuite{}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
