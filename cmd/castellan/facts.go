package main

// The fact verbs: tell, delete, get, inspect and clear.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const valueSyntaxHelp = `Values are written Type:id (User:alice, Repository:anvil); a bare word is a
String (owner), and Integer:3 and Boolean:true are numbers and booleans.`

func runTell(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "tell", "tell PREDICATE ARG... [flags]",
		"Stores one fact, such as: castellan tell has_role User:bob maintainer Repository:anvil\n"+
			"With --until (and --from) the fact holds only inside that window, e.g. read until Friday:\n"+
			"  castellan tell has_role User:bob reader Repository:anvil --until 2027-01-08T17:00:00Z\n"+
			"Telling a stored fact again with another window replaces its window.\n\n"+valueSyntaxHelp)
	from := fs.String("from", "", "the fact holds from this RFC 3339 `time` on (such as 2027-01-01T09:00:00Z)")
	until := fs.String("until", "", "the fact holds until this RFC 3339 `time`, excluded (such as 2027-01-08T17:00:00Z)")
	args, err := parseArgsBetween(fs, args, 2, -1)
	if err != nil {
		return helpOr(err)
	}
	f, err := parseFact(args, false, false)
	if err != nil {
		return usageError("tell: %v", err)
	}
	if f.ValidFrom, err = parseTimeFlag("from", *from); err != nil {
		return err
	}
	if f.ValidUntil, err = parseTimeFlag("until", *until); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	if err := c.Insert(ctx, f); err != nil {
		return r.fail(err)
	}
	if r.json {
		return printJSON(e.stdout, f)
	}
	fmt.Fprintln(e.stdout, "stored", factLine(f))
	return nil
}

// parseTimeFlag parses an RFC 3339 flag value; empty is the zero time.
func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usageError("--%s %q is not an RFC 3339 time (such as 2027-01-08T17:00:00Z)", name, v)
	}
	return t, nil
}

// factLine renders a fact with its validity window, if any.
func factLine(f castellan.Fact) string {
	s := f.String()
	if !f.ValidFrom.IsZero() {
		s += " from " + f.ValidFrom.UTC().Format(time.RFC3339Nano)
	}
	if !f.ValidUntil.IsZero() {
		s += " until " + f.ValidUntil.UTC().Format(time.RFC3339Nano)
	}
	return s
}

func runDelete(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "delete", "delete PREDICATE ARG... [flags]",
		"Deletes every stored fact matching the pattern; _ matches any value and Type:_\nany value of that type. Deleting nothing is not an error.\n"+
			"Example: castellan delete has_role User:_ _ Repository:anvil\n\n"+valueSyntaxHelp)
	args, err := parseArgsBetween(fs, args, 2, -1)
	if err != nil {
		return helpOr(err)
	}
	f, err := parseFact(args, true, false)
	if err != nil {
		return usageError("delete: %v", err)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	if err := c.Delete(ctx, f); err != nil {
		return r.fail(err)
	}
	return r.printDone("deleted", "deleted "+f.String())
}

func runGet(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "get", "get PREDICATE|_ [ARG...] [flags]",
		"Prints the stored facts matching the pattern; _ matches any predicate or value\nand Type:_ any value of that type.\n"+
			"Example: castellan get has_role _ maintainer Repository:_\n\n"+valueSyntaxHelp)
	args, err := parseArgsBetween(fs, args, 1, -1)
	if err != nil {
		return helpOr(err)
	}
	f, err := parseFact(args, true, true)
	if err != nil {
		return usageError("get: %v", err)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	facts, err := c.Get(ctx, f)
	if err != nil {
		return r.fail(err)
	}
	return r.printFacts(facts, "")
}

// inspectMaxArity is how many argument positions inspect searches.
const inspectMaxArity = 6

func runInspect(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "inspect", "inspect Type:id [flags]",
		"Prints every stored fact that has the value as an argument (positions 1 to "+strconv.Itoa(inspectMaxArity)+").\n"+
			"Example: castellan inspect User:bob\n\n"+valueSyntaxHelp)
	args, err := parseArgsBetween(fs, args, 1, 1)
	if err != nil {
		return helpOr(err)
	}
	v, err := parseValue(args[0], false)
	if err != nil {
		return usageError("inspect: %v", err)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	var all []castellan.Fact
	seen := map[string]bool{}
	for pos := range inspectMaxArity {
		pattern := castellan.Fact{Args: make([]castellan.Value, pos+1)}
		pattern.Args[pos] = v
		facts, err := c.Get(ctx, pattern)
		if err != nil {
			return r.fail(err)
		}
		for _, f := range facts {
			if k := f.String(); !seen[k] {
				seen[k] = true
				all = append(all, f)
			}
		}
	}
	return r.printFacts(all, "")
}

func runClear(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "clear", "clear --confirm [flags]",
		"Deletes every stored fact. It cannot be undone, so it needs --confirm.")
	confirm := fs.Bool("confirm", false, "really delete every stored fact")
	args, err := parseArgsBetween(fs, args, 0, 0)
	if err != nil {
		return helpOr(err)
	}
	if !*confirm {
		return usageError("clear deletes every stored fact of %s; run it again with --confirm", r.baseURL())
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	if err := c.Clear(ctx); err != nil {
		return r.fail(err)
	}
	return r.printDone("cleared", "deleted every stored fact")
}
