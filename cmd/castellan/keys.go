package main

// castellan keys create|list|delete: API keys (admin scope).

import (
	"context"
	"fmt"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/lang"
)

func runKeys(ctx context.Context, e *env, args []string) error {
	subs := map[string]func(context.Context, *env, []string) error{
		"create": runKeysCreate,
		"list":   runKeysList,
		"delete": runKeysDelete,
	}
	if len(args) > 0 {
		if run, ok := subs[args[0]]; ok {
			return run(ctx, e, args[1:])
		}
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			printKeysUsage(e)
			return nil
		}
	}
	printKeysUsage(e)
	if len(args) == 0 {
		return usageError("keys needs a subcommand")
	}
	if s := lang.Nearest(args[0], []string{"create", "list", "delete"}); s != "" {
		return usageError("unknown keys subcommand %q (did you mean %q?)", args[0], s)
	}
	return usageError("unknown keys subcommand %q", args[0])
}

func printKeysUsage(e *env) {
	fmt.Fprintln(e.stderr, "usage: castellan keys create --scope read|write|admin [--name NAME] [--caller Type:id]")
	fmt.Fprintln(e.stderr, "       castellan keys list")
	fmt.Fprintln(e.stderr, "       castellan keys delete ID")
}

func runKeysCreate(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "keys create", "keys create --scope read|write|admin [--name NAME] [--caller Type:id] [flags]",
		"Creates an API key and prints its secret, which is shown only this once.\n"+
			"Scopes: read asks questions, write also changes facts, admin also manages\nthe policy and keys.\nWith --caller, the key is bound to a caller identity: its requests carry the\nverified fact request_caller(Type{\"id\"}).")
	scope := fs.String("scope", "", "read, write or admin (required)")
	name := fs.String("name", "", "a name to recognise the key by")
	boundTo := fs.String("caller", "", "bind the key to this caller identity, `Type:id` (e.g. Service:billing)")
	args, err := parseArgsBetween(fs, args, 0, 0)
	if err != nil {
		return helpOr(err)
	}
	switch *scope {
	case castellan.ScopeRead, castellan.ScopeWrite, castellan.ScopeAdmin:
	case "":
		return usageError("keys create: --scope is required (read, write or admin)")
	default:
		return usageError("keys create: scope %q is not read, write or admin", *scope)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	k, err := c.CreateCallerKey(ctx, *name, *scope, *boundTo)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		return printJSON(e.stdout, k)
	}
	if k.Caller != "" {
		fmt.Fprintf(e.stdout, "created key %s (name %q, scope %s, caller %s)\n", k.ID, k.Name, k.Scope, k.Caller)
	} else {
		fmt.Fprintf(e.stdout, "created key %s (name %q, scope %s)\n", k.ID, k.Name, k.Scope)
	}
	fmt.Fprintf(e.stdout, "secret: %s\n", k.Secret)
	fmt.Fprintln(e.stderr, "store the secret now: it is not shown again")
	return nil
}

func runKeysList(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "keys list", "keys list [flags]", "Lists the API keys (never their secrets).")
	_, c, err := r.connect(fs, args, 0, 0)
	if err != nil {
		return helpOr(err)
	}
	keys, err := c.ListKeys(ctx)
	if err != nil {
		return r.fail(err)
	}
	return printTable(r, "keys", keys, "ID\tNAME\tSCOPE\tCALLER\tCREATED", func(k castellan.APIKey) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", k.ID, k.Name, k.Scope, k.Caller, k.CreatedAt.UTC().Format(time.RFC3339))
	})
}

func runKeysDelete(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "keys delete", "keys delete ID [flags]", "Revokes an API key at once.")
	args, c, err := r.connect(fs, args, 1, 1)
	if err != nil {
		return helpOr(err)
	}
	if err := c.DeleteKey(ctx, args[0]); err != nil {
		return r.fail(err)
	}
	return r.printDone("deleted", "deleted key "+args[0])
}
