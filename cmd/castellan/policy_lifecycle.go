package main

// The policy verbs that judge a candidate before it goes live: preview
// (replay the decision log), shadow (evaluate it on live traffic) and diff
// (the structural difference of two policies).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/castellan-authz/castellan/audit"
	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/policy"
)

// readClientFiles reads policy files for the client.
func readClientFiles(names []string) ([]castellan.PolicyFile, error) {
	files := make([]castellan.PolicyFile, 0, len(names))
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, usageError("%v", err)
		}
		files = append(files, castellan.PolicyFile{Filename: filepath.Base(name), Src: string(src)})
	}
	return files, nil
}

func runPolicyPreview(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "policy preview", "policy preview FILE... [--limit N] [--log FILE] [flags]",
		"Compiles and tests the files as a candidate policy and replays the last decisions\n"+
			"of the server's decision log under the live policy and the candidate, over the\n"+
			"current facts and the context facts each decision kept. Prints every decision\n"+
			"that changes (actor, action, resource, before -> after, and the rule responsible).\n"+
			"Nothing goes live. With --log the decisions are read from a decision log file\n"+
			"here instead (castellan serve's audit log) and sent to the server.\n\n"+
			"Exit status: 0 when nothing changes, 1 when something does (or the candidate\n"+
			"does not compile or its tests fail), 2 for bad usage or an unreachable server.")
	limit := fs.Int("limit", 1000, "how many of the last decisions to replay")
	logFile := fs.String("log", "", "replay the decisions of this decision log file instead of the server's log")
	args, err := parseArgsBetween(fs, args, 1, -1)
	if err != nil {
		return helpOr(err)
	}
	if *limit < 1 || *limit > 100_000 {
		return usageError("policy preview: --limit %d is not between 1 and 100000", *limit)
	}
	files, err := readClientFiles(args)
	if err != nil {
		return err
	}
	opts := castellan.PreviewOptions{Limit: *limit}
	if *logFile != "" {
		if opts.Decisions, err = lastLogRecords(*logFile, *limit); err != nil {
			return usageError("policy preview: --log: %v", err)
		}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	p, err := c.PreviewPolicy(ctx, opts, files...)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		if err := printJSON(e.stdout, p); err != nil {
			return err
		}
	} else {
		printPreview(e.stdout, p)
	}
	if p.Changed > 0 {
		return errFailed
	}
	return nil
}

// lastLogRecords reads the last n decision records of a log file (and its
// rotated files), newest first.
func lastLogRecords(path string, n int) ([]json.RawMessage, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	q := audit.Query{}
	for len(out) < n {
		q.Limit = min(audit.MaxLimit, n-len(out))
		page, err := audit.SearchFile(path, q)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Decisions {
			out = append(out, json.RawMessage(d.Line))
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	return out, nil
}

func printPreview(w io.Writer, p *castellan.Preview) {
	fmt.Fprintf(w, "replayed %s of %s under the live policy (version %d) and the candidate: %s\n",
		countOf(p.Replayed, "question"), countOf(p.Decisions, "decision"), p.LiveVersion, changedCount(p.Changed))
	if len(p.Changes) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACTOR\tACTION\tRESOURCE\tCHANGE\tCOUNT\tRULE\tENDPOINT")
		for _, c := range p.Changes {
			rule := c.Fact
			if c.Rule != nil {
				rule = c.Rule.Position + " " + c.Rule.Text
			}
			change := c.Before + " -> " + c.After
			if c.ContextHashed {
				change += " (context hashed)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.Actor, c.Action, c.Resource, change, c.Count, rule, c.Endpoint)
		}
		tw.Flush()
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(w, "skipped %s of %s: %s\n", countOf(s.Count, "decision"), s.Endpoint, s.Reason)
	}
	if p.Errors > 0 {
		fmt.Fprintf(w, "%s could not be answered: %s\n", countOf(p.Errors, "question"), p.FirstError)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func changedCount(n int) string {
	if n == 0 {
		return "no answer changes"
	}
	if n == 1 {
		return "1 answer changes"
	}
	return strconv.Itoa(n) + " answers change"
}

func runPolicyShadow(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "policy shadow", "policy shadow FILE... --for DURATION | --status | --stop [flags]",
		"Runs the files as a candidate policy in shadow on the server's live traffic for\n"+
			"DURATION: every authorize the server answers under the live policy is also\n"+
			"evaluated under the candidate, off the request path (answers never change or\n"+
			"wait). Differences are counted (castellan_shadow_decisions_total) and logged.\n"+
			"--status prints the counts and the latest differences, --stop ends the run.\n\n"+
			"With --status and --stop the exit status is 1 when the candidate decided\n"+
			"anything differently, else 0.")
	dur := fs.Duration("for", 0, "how long to run the candidate in shadow (such as 10m, at most 168h)")
	status := fs.Bool("status", false, "print the counts of the shadow run")
	stop := fs.Bool("stop", false, "stop the shadow run and print its final counts")
	args, err := parseArgs(fs, args)
	if err != nil {
		return helpOr(err)
	}
	modes := 0
	for _, b := range []bool{*dur != 0, *status, *stop} {
		if b {
			modes++
		}
	}
	if modes != 1 {
		fs.Usage()
		return usageError("policy shadow needs exactly one of --for DURATION (with files), --status and --stop")
	}
	if (*dur != 0) != (len(args) > 0) {
		fs.Usage()
		return usageError("policy shadow: files go with --for, and --for with files")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	var st *castellan.ShadowStatus
	switch {
	case *dur != 0:
		files, err := readClientFiles(args)
		if err != nil {
			return err
		}
		if st, err = c.StartShadow(ctx, *dur, files...); err != nil {
			return r.fail(err)
		}
	case *status:
		st, err = c.Shadow(ctx)
	default:
		st, err = c.StopShadow(ctx)
	}
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		if err := printJSON(e.stdout, st); err != nil {
			return err
		}
	} else {
		printShadow(e.stdout, st)
	}
	if *dur == 0 && st.Different > 0 {
		return errFailed
	}
	return nil
}

func printShadow(w io.Writer, st *castellan.ShadowStatus) {
	state := "running until " + st.Ends.UTC().Format(time.RFC3339)
	if !st.Active {
		state = "ended " + st.Stopped.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "shadow run of %s against live version %d, %s\n", strings.Join(st.CandidateFiles, ", "), st.LiveVersion, state)
	fmt.Fprintf(w, "offered %d, same %d, different %d, dropped %d, errors %d\n", st.Offered, st.Same, st.Different, st.Dropped, st.Errors)
	if len(st.Recent) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tRESOURCE\tLIVE -> SHADOW\tRULE")
	for _, d := range st.Recent {
		rule := d.Fact
		if d.Rule != nil {
			rule = d.Rule.Position + " " + d.Rule.Text
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s -> %s\t%s\n", d.Time.UTC().Format(time.RFC3339), d.Actor, d.Action, d.Resource, d.Live, d.Shadow, rule)
	}
	tw.Flush()
}

func runPolicyDiff(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "policy diff", "policy diff A B [flags]",
		"Shows what changes from policy A to policy B: resource and actor blocks, their\n"+
			"roles, permissions and relations, the rules of each predicate (shorthand rules\n"+
			"expanded) and the test blocks, added (+), removed (-) or changed (~). Formatting,\n"+
			"comments and the order of rules do not count. A and B are each a policy file,\n"+
			"several files joined with commas, a stored version number (fetched from the\n"+
			"server), or \"live\".\n\n"+
			"Exit status: 0 when the policies are the same, 1 when they differ, 2 for bad\n"+
			"usage, a policy that does not compile or an unreachable server.")
	args, err := parseArgsBetween(fs, args, 2, 2)
	if err != nil {
		return helpOr(err)
	}
	var progs [2]*lang.Program
	for i, a := range args {
		files, err := diffSide(ctx, r, a)
		if err != nil {
			return err
		}
		c, err := policy.CompileOnly(files)
		if err != nil {
			return usageError("policy diff: %s does not compile:\n%v", a, err)
		}
		progs[i] = c.Program()
	}
	d := lang.DiffPrograms(progs[0], progs[1])
	if r.json {
		if err := printJSON(e.stdout, diffJSON(d)); err != nil {
			return err
		}
	} else if d.Empty() {
		fmt.Fprintf(e.stdout, "%s and %s are the same policy\n", args[0], args[1])
	} else {
		fmt.Fprint(e.stdout, d.String())
	}
	if !d.Empty() {
		return errFailed
	}
	return nil
}

// diffSide reads one side of a diff: files, a stored version or "live".
func diffSide(ctx context.Context, r *remote, a string) ([]policy.File, error) {
	version, err := strconv.ParseInt(a, 10, 64)
	if err != nil && a != "live" {
		files, err := readPolicyFiles(strings.Split(a, ","))
		if err != nil {
			return nil, usageError("policy diff: %q is not a version number, \"live\" or a policy file: %v", a, err)
		}
		return files, nil
	}
	if err == nil && version < 1 {
		return nil, usageError("policy diff: %q is not a version number (see castellan policy history)", a)
	}
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	if a == "live" {
		p, err := c.GetPolicy(ctx)
		if err != nil {
			return nil, r.fail(err)
		}
		if p == nil {
			return nil, nil // no policy: the empty one
		}
		return []policy.File{{Filename: p.Filename, Src: p.Src}}, nil
	}
	pv, err := c.GetPolicyVersion(ctx, version)
	if err != nil {
		return nil, r.fail(err)
	}
	files := make([]policy.File, len(pv.Files))
	for i, f := range pv.Files {
		files[i] = policy.File{Filename: f.Filename, Src: f.Src}
	}
	return files, nil
}

// diffJSON is a diff as --json prints it.
func diffJSON(d *lang.Diff) map[string]any {
	list := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	blocks := []map[string]any{}
	for _, b := range d.Blocks {
		blocks = append(blocks, map[string]any{"name": b.Name, "kind": b.Kind, "change": b.Change, "kind_before": b.KindBefore,
			"roles_added": list(b.RolesAdded), "roles_removed": list(b.RolesRemoved),
			"permissions_added": list(b.PermissionsAdded), "permissions_removed": list(b.PermissionsRemoved),
			"relations_added": list(b.RelationsAdded), "relations_removed": list(b.RelationsRemoved), "relations_changed": list(b.RelationsChanged)})
	}
	rules := []map[string]any{}
	for _, r := range d.Rules {
		changed := []map[string]string{}
		for _, c := range r.Changed {
			changed = append(changed, map[string]string{"before": c.Before, "after": c.After})
		}
		rules = append(rules, map[string]any{"predicate": r.Pred.String(), "added": list(r.Added), "removed": list(r.Removed), "changed": changed})
	}
	return map[string]any{"equal": d.Empty(), "blocks": blocks, "rules": rules,
		"tests_added": list(d.TestsAdded), "tests_removed": list(d.TestsRemoved)}
}
