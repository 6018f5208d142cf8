package main

// The local-authorization verbs: authorize-local, list-local and
// actions-local print the SQL the server answers for a data-bindings file,
// for debugging the file. They take the arguments of authorize, list and
// actions, plus --bindings FILE.

import (
	"context"
	"flag"
	"fmt"
	"os"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const bindingsHelp = `--bindings FILE is the data-bindings YAML file the application gives its SDK
(facts: signatures with the SQL returning them; sql_types). The SQL printed is
what the SDK's local call would return; run it on the application's database.
See docs/local-authorization.md.`

// localFlags is what every local verb adds to a question verb's flags.
type localFlags struct {
	fs       *flag.FlagSet
	r        *remote
	cf       *contextFlag
	bindings *string
}

func newLocalFlags(e *env, verb, usage, help string) *localFlags {
	fs, r, cf := newQuestionFlags(e, verb, usage, help+"\n\n"+bindingsHelp)
	return &localFlags{fs: fs, r: r, cf: cf, bindings: fs.String("bindings", "", "the data-bindings YAML `FILE` (required)")}
}

// parse parses args, checks their number, reads the bindings file and
// returns the arguments, the bindings and a client of the server. With
// resource, it parses the first and last arguments as actor and
// resource.
func (l *localFlags) parse(args []string, n int, resource bool) (localArgs, error) {
	var a localArgs
	args, err := parseArgsBetween(l.fs, args, n, n)
	if err != nil {
		return a, err
	}
	if *l.bindings == "" {
		l.fs.Usage()
		return a, usageError("%s: --bindings FILE is required", l.fs.Name())
	}
	src, err := os.ReadFile(*l.bindings)
	if err != nil {
		return a, usageError("%s: reading the data bindings: %v", l.fs.Name(), err)
	}
	a.args, a.bindings = args, string(src)
	if resource {
		if a.actor, a.resource, err = parseActorResource(l.fs.Name(), args[0], args[n-1]); err != nil {
			return a, err
		}
	}
	a.c, err = l.r.client()
	return a, err
}

// localArgs is what a local verb parsed.
type localArgs struct {
	args            []string
	bindings        string
	actor, resource castellan.Value
	c               *castellan.Client
}

// print writes the SQL, or {"sql": ...} with --json.
func (l *localFlags) print(res castellan.LocalResult, err error) error {
	if err != nil {
		return l.r.fail(err)
	}
	if l.r.json {
		return printJSON(l.r.e.stdout, map[string]string{"sql": res.SQL})
	}
	_, err = fmt.Fprintln(l.r.e.stdout, res.SQL)
	return err
}

func runAuthorizeLocal(ctx context.Context, e *env, args []string) error {
	l := newLocalFlags(e, "authorize-local", "authorize-local ACTOR ACTION RESOURCE --bindings FILE [-c FACT]... [flags]",
		"Prints the SQL that decides whether ACTOR may do ACTION on RESOURCE on the\napplication's database: one row, boolean column allowed.\n"+
			"Example: castellan authorize-local --bindings bindings.yaml User:bob read Issue:42")
	a, err := l.parse(args, 3, true)
	if err != nil {
		return helpOr(err)
	}
	return l.print(a.c.AuthorizeLocal(ctx, a.bindings, a.actor, a.args[1], a.resource, l.cf.options()...))
}

func runListLocal(ctx context.Context, e *env, args []string) error {
	l := newLocalFlags(e, "list-local", "list-local ACTOR ACTION TYPE --bindings FILE [--column COL] [-c FACT]... [flags]",
		"Prints the SQL condition on COL that keeps the rows of TYPE on which ACTOR may\ndo ACTION: SELECT ... FROM issues WHERE <condition>.\n"+
			"Example: castellan list-local --bindings bindings.yaml --column issues.id User:bob read Issue")
	column := l.fs.String("column", "id", "the SQL column holding the resource id, pasted as given (such as issues.id)")
	a, err := l.parse(args, 3, false)
	if err != nil {
		return helpOr(err)
	}
	actor, err := parseActorType("list-local", a.args[0], a.args[2])
	if err != nil {
		return err
	}
	return l.print(a.c.ListLocal(ctx, a.bindings, actor, a.args[1], a.args[2], *column, l.cf.options()...))
}

func runActionsLocal(ctx context.Context, e *env, args []string) error {
	l := newLocalFlags(e, "actions-local", "actions-local ACTOR RESOURCE --bindings FILE [-c FACT]... [flags]",
		"Prints the SQL giving the actions ACTOR may do on RESOURCE on the application's\ndatabase: a row per action, text column actions.\n"+
			"Example: castellan actions-local --bindings bindings.yaml User:bob Issue:42")
	a, err := l.parse(args, 2, true)
	if err != nil {
		return helpOr(err)
	}
	return l.print(a.c.ActionsLocal(ctx, a.bindings, a.actor, a.resource, l.cf.options()...))
}
