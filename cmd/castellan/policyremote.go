package main

// The policy verbs that talk to a server: upload (castellan policy FILE...),
// get, history and rollback.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

func runPolicyUpload(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "policy", "policy [upload] FILE... [flags]",
		"Uploads the files together as the live policy. The server checks them and runs\n"+
			"their tests first; if anything fails it prints why and the old policy stays live.\n"+
			"A policy with no allow rule, or one that would orphan every stored fact, is refused\n"+
			"with a message saying so unless --force is given. Stored facts the policy cannot\n"+
			"use (no rule uses their predicate, or they do not type-check) are listed per\n"+
			"predicate; with --strict such a policy is refused and nothing changes.\n\n"+
			"Other policy subcommands: validate, fmt and test (offline); get, history,\nrollback, preview and shadow (on the server); diff (files or versions). Each\ntakes -h.")
	force := fs.Bool("force", false, "make the policy live even with no allow rule or every stored fact orphaned")
	strict := fs.Bool("strict", false, "refuse the policy (changing nothing) when stored facts would not be usable by it")
	args, err := parseArgsBetween(fs, args, 1, -1)
	if err != nil {
		return helpOr(err)
	}
	files := make([]castellan.PolicyFile, 0, len(args))
	for _, name := range args {
		src, err := os.ReadFile(name)
		if err != nil {
			return usageError("policy: %v", err)
		}
		files = append(files, castellan.PolicyFile{Filename: filepath.Base(name), Src: string(src)})
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	res, err := c.UploadPolicyWith(ctx, castellan.UploadOptions{Force: *force, Strict: *strict, DataCheck: true}, files...)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		return printJSON(e.stdout, map[string]any{"message": res.Message, "changed": res.Changed, "data_check": res.DataCheck})
	}
	msg := res.Message
	if dc := res.DataCheck; dc != nil && dc.Unusable > 0 {
		// The list below says it in full.
		msg, _, _ = strings.Cut(msg, fmt.Sprintf("; %d stored facts are not usable", dc.Unusable))
	}
	fmt.Fprintln(e.stdout, msg)
	printDataCheck(e.stdout, res.DataCheck)
	return nil
}

// printDataCheck lists the unusable stored facts per predicate, with a
// sample of each.
func printDataCheck(w io.Writer, dc *castellan.DataCheck) {
	if dc == nil || dc.Unusable == 0 {
		return
	}
	fmt.Fprintf(w, "warning: %d of %d stored facts are not usable by this policy:\n", dc.Unusable, dc.Facts)
	for _, p := range dc.Predicates {
		why := "do not type-check: " + p.Message
		if p.Unused {
			why = "no rule uses " + p.Predicate + "/" + strconv.Itoa(p.Arity)
		}
		fmt.Fprintf(w, "  %s/%d: %d facts (%s)\n", p.Predicate, p.Arity, p.Count, why)
		for _, f := range p.Sample {
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
	if dc.Partial {
		fmt.Fprintf(w, "  (%d of the %d facts were checked)\n", dc.Checked, dc.Facts)
	}
	fmt.Fprintln(w, "  (castellan policy --strict refuses such a policy)")
}

func runPolicyGet(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "policy get", "policy get [--version N] [flags]",
		"Prints the live policy, or a stored version of it.")
	ver := fs.Int64("version", 0, "print this stored version instead of the live policy")
	_, c, err := r.connect(fs, args, 0, 0)
	if err != nil {
		return helpOr(err)
	}
	if *ver == 0 {
		p, err := c.GetPolicy(ctx)
		if err != nil {
			return r.fail(err)
		}
		if r.json {
			return printJSON(e.stdout, map[string]any{"policy": p})
		}
		if p == nil {
			fmt.Fprintln(e.stderr, "no policy has been uploaded")
			return errReported
		}
		fmt.Fprint(e.stdout, withNewline(p.Src))
		return nil
	}
	pv, err := c.GetPolicyVersion(ctx, *ver)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		return printJSON(e.stdout, pv)
	}
	for i, f := range pv.Files {
		if len(pv.Files) > 1 {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			fmt.Fprintf(e.stdout, "# ==> %s <==\n", f.Filename)
		}
		fmt.Fprint(e.stdout, withNewline(f.Src))
	}
	return nil
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// runPolicyList is `castellan policy list` (also `policy history`): the
// stored versions as a table, newest first, filtered by status and time.
func runPolicyList(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "policy list", "policy list [--status S] [--since T] [--until T] [--limit N] [--page-token T] [flags]",
		"Lists the stored versions of the policy, newest first: where each came from\n"+
			"(upload, file, git commit), who made it, when, how many tests it passed and its\n"+
			"status (live, previous, rolled_back). `policy history` is the same verb.")
	status := fs.String("status", "", "only versions of this status: live, previous or rolled_back")
	since := fs.String("since", "", "only versions created at or after this RFC 3339 `time`")
	until := fs.String("until", "", "only versions created before this RFC 3339 `time`")
	limit := fs.Int("limit", 0, "one page of at most `N` versions (default: every version)")
	token := fs.String("page-token", "", "the page after this token (printed after a --limit page)")
	_, c, err := r.connect(fs, args, 0, 0)
	if err != nil {
		return helpOr(err)
	}
	q := castellan.PolicyQuery{Status: *status, Limit: *limit, PageToken: *token}
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--since", *since, &q.Since}, {"--until", *until, &q.Until}} {
		if t.v == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339Nano, t.v); err != nil {
			return usageError("policy list: %s %q is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)", t.flag, t.v)
		}
	}
	var page castellan.PolicyPage
	for {
		p, err := c.ListPolicies(ctx, q)
		if err != nil {
			return r.fail(err)
		}
		page.Policies = append(page.Policies, p.Policies...)
		page.NextPageToken = p.NextPageToken
		if *limit != 0 || p.NextPageToken == "" {
			break
		}
		q.PageToken = p.NextPageToken
	}
	if r.json {
		if page.Policies == nil {
			page.Policies = []castellan.PolicyVersionInfo{}
		}
		return printJSON(e.stdout, page)
	}
	err = printTable(r, "policies", page.Policies, "VERSION\tSTATUS\tSOURCE\tCOMMIT\tTESTS\tCREATED\tBY\tFILES", func(v castellan.PolicyVersionInfo) string {
		source, commit := v.Source, v.Commit
		if source == "" {
			source = "-"
		}
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if commit == "" {
			commit = "-"
		}
		return fmt.Sprintf("%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s", v.Version, v.Status, source, commit, v.TestCount,
			v.CreatedAt.UTC().Format(time.RFC3339), v.CreatedBy, strings.Join(v.Files, ", "))
	})
	if err == nil && page.NextPageToken != "" {
		fmt.Fprintf(e.stderr, "more versions: --page-token %s\n", page.NextPageToken)
	}
	return err
}

func runPolicyRollback(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "policy rollback", "policy rollback VERSION [flags]",
		"Makes a stored version the live policy again, after re-checking it and\nre-running its tests.")
	args, err := parseArgsBetween(fs, args, 1, 1)
	if err != nil {
		return helpOr(err)
	}
	ver, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || ver <= 0 {
		return usageError("policy rollback: %q is not a version number (see castellan policy history)", args[0])
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	pv, err := c.ActivatePolicy(ctx, ver)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		return printJSON(e.stdout, pv)
	}
	fmt.Fprintf(e.stdout, "policy version %d is live\n", pv.Version)
	return nil
}
