package main

// The question verbs: authorize, list, actions and query. Each takes
// -c/--context facts that are used for that question only.

import (
	"context"
	"flag"
	"fmt"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const contextHelp = `-c/--context "PRED ARG..." sends a fact with the question, used for it only and
never stored; repeat it for several, e.g.
  -c "has_relation Action:1 repository Repository:anvil"`

// newQuestionFlags is newRemoteFlags for a question verb: it adds
// -c/--context, and the help for it and for values to help.
func newQuestionFlags(e *env, verb, usage, help string) (*flag.FlagSet, *remote, *contextFlag) {
	fs, r := newRemoteFlags(e, verb, usage, help+"\n\n"+contextHelp+"\n\n"+valueSyntaxHelp)
	cf := &contextFlag{}
	cf.register(fs)
	return fs, r, cf
}

// parseActorResource reads the ACTOR and RESOURCE arguments of verb.
func parseActorResource(verb, actorArg, resourceArg string) (actor, resource castellan.Value, err error) {
	if actor, err = parseValue(actorArg, false); err != nil {
		return actor, resource, usageError("%s: actor: %v", verb, err)
	}
	if resource, err = parseValue(resourceArg, false); err != nil {
		return actor, resource, usageError("%s: resource: %v", verb, err)
	}
	return actor, resource, nil
}

// parseActorType reads the ACTOR and TYPE arguments of verb.
func parseActorType(verb, actorArg, typeArg string) (castellan.Value, error) {
	actor, err := parseValue(actorArg, false)
	if err != nil {
		return actor, usageError("%s: actor: %v", verb, err)
	}
	if !typeRE.MatchString(typeArg) {
		return actor, usageError("%s: %q is not a type name (such as Repository)", verb, typeArg)
	}
	return actor, nil
}

func runAuthorize(ctx context.Context, e *env, args []string) error {
	fs, r, cf := newQuestionFlags(e, "authorize", "authorize ACTOR ACTION RESOURCE [-c FACT]... [flags]",
		"Asks whether ACTOR may do ACTION on RESOURCE; prints allowed (exit 0) or denied\n(exit 1). Example: castellan authorize User:bob rerun Action:1")
	explain := fs.Bool("explain", false, "print how the policy reached the decision")
	args, err := parseArgsBetween(fs, args, 3, 3)
	if err != nil {
		return helpOr(err)
	}
	actor, resource, err := parseActorResource("authorize", args[0], args[2])
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	opts := cf.options()
	if *explain {
		opts = append(opts, castellan.WithExplain())
	}
	d, err := c.Authorize(ctx, actor, args[1], resource, opts...)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		out := struct {
			Allowed     bool                   `json:"allowed"`
			Explanation *castellan.Explanation `json:"explanation,omitempty"`
		}{d.Allowed, d.Explanation}
		if err := printJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		if d.Allowed {
			fmt.Fprintln(e.stdout, "allowed")
		} else {
			fmt.Fprintln(e.stdout, "denied")
		}
		if d.Explanation != nil {
			printExplanation(e.stdout, d.Explanation)
		}
	}
	if !d.Allowed {
		return errFailed
	}
	return nil
}

func runList(ctx context.Context, e *env, args []string) error {
	fs, r, cf := newQuestionFlags(e, "list", "list ACTOR ACTION TYPE [-c FACT]... [flags]",
		"Prints the ids of the resources of TYPE on which ACTOR may do ACTION, one per\nline. Example: castellan list User:bob read Repository")
	pageSize := fs.Int("page-size", 1000, "ask the server for pages of this many ids")
	args, err := parseArgsBetween(fs, args, 3, 3)
	if err != nil {
		return helpOr(err)
	}
	actor, err := parseActorType("list", args[0], args[2])
	if err != nil {
		return err
	}
	if *pageSize <= 0 {
		return usageError("list: --page-size must be positive")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ids, err := c.ListAll(ctx, actor, args[1], args[2], *pageSize, cf.options()...)
	if err != nil {
		return r.fail(err)
	}
	return r.printStrings(ids)
}

func runActions(ctx context.Context, e *env, args []string) error {
	fs, r, cf := newQuestionFlags(e, "actions", "actions ACTOR RESOURCE [-c FACT]... [flags]",
		"Prints the actions ACTOR may do on RESOURCE, one per line.\nExample: castellan actions User:bob Repository:anvil")
	args, err := parseArgsBetween(fs, args, 2, 2)
	if err != nil {
		return helpOr(err)
	}
	actor, resource, err := parseActorResource("actions", args[0], args[1])
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	acts, err := c.Actions(ctx, actor, resource, cf.options()...)
	if err != nil {
		return r.fail(err)
	}
	return r.printStrings(acts)
}

// printStrings prints one string per line, or {"results": [...]}.
func (r *remote) printStrings(ss []string) error {
	if r.json {
		if ss == nil {
			ss = []string{}
		}
		return printJSON(r.e.stdout, map[string][]string{"results": ss})
	}
	for _, s := range ss {
		fmt.Fprintln(r.e.stdout, s)
	}
	return nil
}

func runQuery(ctx context.Context, e *env, args []string) error {
	fs, r, cf := newQuestionFlags(e, "query", "query PREDICATE ARG... [-c FACT]... [flags]",
		"Prints the facts, stored or derived by the policy, that match the pattern;\nType:_ is a variable of that type, a bare _ a variable of any type.\n"+
			"Only rules of the same arity are considered.\n"+
			"Example: castellan query has_permission User:_ rerun Action:1\n"+
			"         castellan query has_permission _ _ Repository:anvil")
	args, err := parseArgsBetween(fs, args, 2, -1)
	if err != nil {
		return helpOr(err)
	}
	pattern, err := parseFact(args, true, false)
	if err != nil {
		return usageError("query: %v", err)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	facts, err := c.Query(ctx, pattern, cf.options()...)
	if err != nil {
		return r.fail(err)
	}
	return r.printFacts(facts, "(no results)")
}
