// Command castellan is Castellan's one binary: the server (serve), schema
// migrations (migrate), and the admin and service verbs that talk to a
// server through clients/go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"syscall"

	"github.com/castellan-authz/castellan/lang"
)

// Exit codes, the same for every verb (listed in exitCodesHelp):
//   - 0: allowed, or done;
//   - 1: a negative answer: denied, a policy refused for its errors or
//     failing tests, a decision log that does not verify, a server that
//     answers not ready (healthcheck);
//   - 2: bad usage: unknown verb or flag, wrong arguments, a malformed value
//     or file given on the command line;
//   - 3: an error: the server cannot be reached or refused the request
//     (bad key, invalid fact, not found, unavailable), an import stopped.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitError  = 3
)

// exitCodesHelp is what every verb's help says of its exit codes.
const exitCodesHelp = "Exit codes: 0 allowed or done, 1 denied (or a policy refused, tests failed),\n2 bad usage, 3 error (server unreachable or refusing the request)."

var (
	// errFailed makes a command exit 1 after it has printed why
	// (denied, tests failed, policy invalid).
	errFailed = errors.New("failed")
	// errUsage marks a usage error; the command exits 2.
	errUsage = errors.New("usage error")
	// errReported makes a command exit 3 after it has printed the error.
	errReported = errors.New("error reported")
)

// usageError returns an error that exits 2 and prints msg.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// env is what a command runs with: its streams and environment.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one castellan verb. Each lives in its own file with its own
// flag.FlagSet.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every verb. Keep it sorted by name.
func commands() []command {
	cmds := []command{
		{"actions", "list the actions an actor may do on a resource", runActions},
		{"actions-local", "print the SQL listing the actions (local authorization)", runActionsLocal},
		{"audit", "verify a decision log; tail or search a server's decision log", runAudit},
		{"authorize", "ask whether an actor may do an action on a resource", runAuthorize},
		{"authorize-batch", "ask the authorize questions of a JSON Lines file, one answer per line", runAuthorizeBatch},
		{"authorize-local", "print the SQL deciding authorize (local authorization)", runAuthorizeLocal},
		{"backup", "create a backup file of facts, policies and keys, or restore one", runBackup},
		{"clear", "delete every stored fact (needs --confirm)", runClear},
		{"delete", "delete the stored facts matching a pattern", runDelete},
		{"export", "write every stored fact (or a pattern's) at one revision, as JSON Lines or CSV", runExport},
		{"get", "print the stored facts matching a pattern", runGet},
		{"healthcheck", "exit 0 when the server is ready (container probe)", runHealthcheck},
		{"import", "load facts from JSON Lines or CSV files, in batches, with progress", runImport},
		{"inspect", "print every stored fact mentioning a value", runInspect},
		{"keys", "create, list and delete API keys", runKeys},
		{"list", "list the resources of a type an actor may act on", runList},
		{"list-local", "print the SQL condition filtering list (local authorization)", runListLocal},
		{"migrate", "apply, revert or report the PostgreSQL schema migrations", runMigrate},
		{"policy", "validate, format, test, upload and manage policies", runPolicy},
		{"query", "print the facts and derived facts matching a pattern", runQuery},
		{"serve", "run the HTTP server (Oso Cloud API, AuthZEN, admin API)", runServe},
		{"sync", "make the stored facts of bound predicates equal to the application's database", runSync},
		{"tell", "store a fact", runTell},
		{"version", "print the version", runVersion},
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ context.Context, e *env, _ []string) error {
	fmt.Fprintln(e.stdout, "castellan", version)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a command and maps its error to an exit code.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) >= 2 && args[0] == "help" {
		// castellan help VERB [SUB]: exactly what VERB [SUB] -h prints.
		for _, c := range commands() {
			if c.name == args[1] {
				return exitCode(e, c.run(ctx, e, append(slices.Clone(args[2:]), "-h")))
			}
		}
		fmt.Fprintf(e.stderr, "castellan: help: unknown command %q\n", args[1])
		if s := lang.Nearest(args[1], commandNames()); s != "" {
			fmt.Fprintf(e.stderr, "\tdid you mean %q?\n", s)
		}
		return exitUsage
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(e, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(e.stderr, "castellan: unknown command %q\n", args[0])
	if _, ok := policySubcommands()[args[0]]; ok {
		// One command per job: the policy verbs live under `policy`.
		fmt.Fprintf(e.stderr, "\tdid you mean \"policy %s\"?\n", args[0])
	} else if s := lang.Nearest(args[0], commandNames()); s != "" {
		fmt.Fprintf(e.stderr, "\tdid you mean %q?\n", s)
	}
	fmt.Fprintln(e.stderr, "run 'castellan help' for the list of commands")
	return exitUsage
}

func exitCode(e *env, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFailed):
		return exitFailed
	case errors.Is(err, errUsage):
		fmt.Fprintln(e.stderr, "castellan:", err)
		return exitUsage
	case errors.Is(err, errReported):
		return exitError
	}
	fmt.Fprintln(e.stderr, "castellan:", err)
	return exitError
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: castellan <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "'castellan help VERB' (or 'castellan VERB -h') describes a verb.")
	fmt.Fprintln(w, exitCodesHelp)
}
