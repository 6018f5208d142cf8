package main

import (
	"context"
	"fmt"
	"io"
)

// policySubcommands maps `castellan policy <sub>` to its implementation.
// Files that implement subcommands add to it in their own init-free way:
// by being listed here.
func policySubcommands() map[string]func(ctx context.Context, e *env, args []string) error {
	return map[string]func(ctx context.Context, e *env, args []string) error{
		"validate": runPolicyValidate,
		"fmt":      runPolicyFmt,
		"test":     runPolicyTest,
		"upload":   runPolicyUpload,
		"get":      runPolicyGet,
		"list":     runPolicyList,
		"history":  runPolicyList,
		"rollback": runPolicyRollback,
		"preview":  runPolicyPreview,
		"shadow":   runPolicyShadow,
		"diff":     runPolicyDiff,
	}
}

func runPolicy(ctx context.Context, e *env, args []string) error {
	subs := policySubcommands()
	if len(args) > 0 {
		if run, ok := subs[args[0]]; ok {
			return run(ctx, e, args[1:])
		}
	}
	if len(args) == 0 {
		printPolicyUsage(e.stderr)
		return usageError("policy needs a subcommand or files to upload")
	}
	if upload, ok := subs["upload"]; ok {
		return upload(ctx, e, args)
	}
	return usageError("unknown policy subcommand %q", args[0])
}

func printPolicyUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: castellan policy FILE...            upload files together as the live policy")
	fmt.Fprintln(w, "       castellan policy validate FILE...   check files offline")
	fmt.Fprintln(w, "       castellan policy fmt FILE           print the canonical form")
	fmt.Fprintln(w, "       castellan policy test FILE...       run the policy's tests offline")
	fmt.Fprintln(w, "       castellan policy get [--version N]  print the live policy (or a stored version)")
	fmt.Fprintln(w, "       castellan policy list [--status S]  list the stored versions: source, commit, tests, status (also: history)")
	fmt.Fprintln(w, "       castellan policy rollback VERSION   make a stored version live again")
	fmt.Fprintln(w, "       castellan policy preview FILE...    replay the last decisions under a candidate")
	fmt.Fprintln(w, "       castellan policy shadow FILE... --for 10m | --status | --stop")
	fmt.Fprintln(w, "                                           run a candidate on live traffic")
	fmt.Fprintln(w, "       castellan policy diff A B           what changes between two policies (files or versions)")
}
