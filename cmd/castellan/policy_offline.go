package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/printer"
	"github.com/castellan-authz/castellan/policy"
)

// runPolicyValidate is `castellan policy validate FILE...`: parse and check
// the files together, offline, as one policy. It prints "N files valid" and
// exits 0, or prints every error to stderr and exits 1. Warnings go to
// stderr and never fail.
func runPolicyValidate(_ context.Context, e *env, args []string) error {
	fs := newPolicyFlagSet(e, "policy validate",
		"usage: castellan policy validate FILE...",
		"Parses and checks the files together as one policy, without a server.")
	names, err := parsePolicyFiles(fs, args, "policy validate needs at least one file")
	if err != nil {
		return helpOr(err)
	}
	c, err := compilePolicy(e, names)
	if err != nil {
		return err
	}
	printPolicyErrors(e.stderr, c.Program().Warnings, "warning: ")
	fmt.Fprintf(e.stdout, "%s valid\n", countOf(len(names), "file"))
	return nil
}

// runPolicyFmt is `castellan policy fmt [-w] FILE...`: print each file in
// canonical form, or with -w rewrite the files that are not.
func runPolicyFmt(_ context.Context, e *env, args []string) error {
	fs := newPolicyFlagSet(e, "policy fmt",
		"usage: castellan policy fmt [-w] FILE...",
		"Prints the canonical form of Polar files.")
	write := fs.Bool("w", false, "rewrite the files in place instead of printing them")
	names, err := parsePolicyFiles(fs, args, "policy fmt needs a file")
	if err != nil {
		return helpOr(err)
	}
	failed := false
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return usageError("reading policy: %v", err)
		}
		f, err := parser.Parse(name, src)
		if err != nil {
			var list ast.ErrorList
			if !errors.As(err, &list) {
				return err
			}
			printPolicyErrors(e.stderr, list, "")
			failed = true
			continue
		}
		out := printer.String(f)
		if !*write {
			io.WriteString(e.stdout, out)
			continue
		}
		if bytes.Equal(src, []byte(out)) {
			continue
		}
		info, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("rewriting policy: %w", err)
		}
		if err := os.WriteFile(name, []byte(out), info.Mode().Perm()); err != nil {
			return fmt.Errorf("rewriting policy: %w", err)
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

// newPolicyFlagSet returns the flag set of an offline policy verb; -h
// prints the usage lines, then the flags.
func newPolicyFlagSet(e *env, name string, usage ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		for _, l := range usage {
			fmt.Fprintln(e.stderr, l)
		}
		fs.PrintDefaults()
	}
	return fs
}

// parsePolicyFiles parses the flags of an offline policy verb and returns
// its file arguments. Without any it prints the usage and returns the
// usage error need; -h returns errHelpShown.
func parsePolicyFiles(fs *flag.FlagSet, args []string, need string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelpShown
		}
		return nil, usageError("%v", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, usageError("%s", need)
	}
	return fs.Args(), nil
}

// compilePolicy reads the files and compiles them together as one policy,
// without running its tests. When they do not compile it prints every
// error and their count to stderr and returns errFailed.
func compilePolicy(e *env, names []string) (*policy.Compiled, error) {
	files, err := readPolicyFiles(names)
	if err != nil {
		return nil, err
	}
	c, err := policy.CompileOnly(files)
	if err != nil {
		var list ast.ErrorList
		if !errors.As(err, &list) {
			return nil, err
		}
		printPolicyErrors(e.stderr, list, "")
		fmt.Fprintf(e.stderr, "%s in %s\n", countOf(len(list), "error"), countOf(len(files), "file"))
		return nil, errFailed
	}
	return c, nil
}

// readPolicyFiles reads policy files.
func readPolicyFiles(names []string) ([]policy.File, error) {
	files := make([]policy.File, 0, len(names))
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, usageError("reading policy: %v", err)
		}
		files = append(files, policy.File{Filename: name, Src: string(src)})
	}
	return files, nil
}

// printPolicyErrors prints positioned errors as `file:line:col: <prefix>message`
// with hints on the next line.
func printPolicyErrors(w io.Writer, list ast.ErrorList, prefix string) {
	for _, e := range list {
		fmt.Fprintf(w, "%s: %s%s\n", e.Pos, prefix, e.Msg)
		if e.Hint != "" {
			fmt.Fprintf(w, "\thint: %s\n", e.Hint)
		}
	}
}

func countOf(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
