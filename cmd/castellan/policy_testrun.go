package main

import (
	"context"
	"fmt"
)

// runPolicyTest is `castellan policy test [-v] FILE...`: compile the files
// together as one policy and run its test blocks offline, each against an
// isolated fact source holding only its setup facts. It prints one line
// per failed assertion, then "N passed, M failed" (tests), and exits 1
// when a test failed or the policy does not compile.
func runPolicyTest(ctx context.Context, e *env, args []string) error {
	fs := newPolicyFlagSet(e, "policy test",
		"usage: castellan policy test [-v] FILE...",
		"Runs the policy's test blocks offline, without a server.")
	verbose := fs.Bool("v", false, "print every test, not only failures")
	names, err := parsePolicyFiles(fs, args, "policy test needs at least one file")
	if err != nil {
		return helpOr(err)
	}
	c, err := compilePolicy(e, names)
	if err != nil {
		return err
	}
	passed, failed := 0, 0
	for _, r := range c.RunTests(ctx) {
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
