package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/ast"
)

// runPolicyTest is `castellan policy test [-v] FILE...`: compile the files
// together as one policy and run its test blocks offline, each against an
// isolated fact source holding only its setup facts. It prints one line
// per failed assertion, then "N passed, M failed" (tests), and exits 1
// when a test failed or the policy does not compile.
func runPolicyTest(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	verbose := fs.Bool("v", false, "print every test, not only failures")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: castellan policy test [-v] FILE...")
		fmt.Fprintln(e.stderr, "Runs the policy's test blocks offline, without a server.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("policy test needs at least one file")
	}
	sources, err := readPolicySources(fs.Args())
	if err != nil {
		return err
	}
	prog, err := lang.Compile(sources...)
	if err != nil {
		var list ast.ErrorList
		if !errors.As(err, &list) {
			return err
		}
		printPolicyErrors(e.stderr, list, "")
		fmt.Fprintf(e.stderr, "%s in %s\n", countOf(len(list), "error"), countOf(len(sources), "file"))
		return errFailed
	}
	passed, failed := 0, 0
	for _, r := range evaluator.New(prog).RunTests(ctx) {
		if r.OK() {
			passed++
			if *verbose {
				fmt.Fprintf(e.stdout, "%s: test %q: ok (%s)\n", r.Pos, r.Name, countOf(r.Total, "assertion"))
			}
			continue
		}
		failed++
		for _, f := range r.Failures {
			fmt.Fprintf(e.stdout, "%s: test %q: %s: %s\n", f.Pos, r.Name, f.Assertion, f.Message)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return errFailed
	}
	return nil
}
