package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// decisionFilter is the filter flags of audit tail and audit search.
type decisionFilter struct {
	q            castellan.DecisionQuery
	since, until string
	fs           *flag.FlagSet
	r            *remote
}

// newDecisionFlags returns the flags of verb: --url, --api-key, --json and
// the filters.
func newDecisionFlags(e *env, verb, usage, help string) *decisionFilter {
	f := &decisionFilter{}
	f.fs, f.r = newRemoteFlags(e, verb, usage, help)
	fs := f.fs
	fs.StringVar(&f.since, "since", "", "records at or after this `TIME` (RFC 3339, or a duration before now such as 1h)")
	fs.StringVar(&f.until, "until", "", "records before this `TIME` (RFC 3339, or a duration before now)")
	fs.StringVar(&f.q.Caller, "caller", "", "records of this caller (API key id or identity)")
	fs.StringVar(&f.q.Actor, "actor", "", "records of this actor (`Type:id`, or Type)")
	fs.StringVar(&f.q.Action, "action", "", "records of this action")
	fs.StringVar(&f.q.Resource, "resource", "", "records of this resource (`Type:id`, or Type)")
	fs.StringVar(&f.q.Result, "result", "", "records with this result: allowed, denied or error")
	fs.Int64Var(&f.q.PolicyVersion, "policy-version", 0, "records decided under this policy `version`")
	return f
}

// connect parses args and returns the client and the query the flags
// ask for, times resolved against now.
func (f *decisionFilter) connect(args []string) (*castellan.Client, castellan.DecisionQuery, error) {
	_, c, err := f.r.connect(f.fs, args, 0, 0)
	if err != nil {
		return nil, f.q, helpOr(err)
	}
	q, now := f.q, time.Now()
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"since", f.since, &q.Since}, {"until", f.until, &q.Until}} {
		if t.v == "" {
			continue
		}
		if d, err := time.ParseDuration(t.v); err == nil {
			*t.dst = now.Add(-d)
		} else if *t.dst, err = time.Parse(time.RFC3339Nano, t.v); err != nil {
			return nil, q, usageError("--%s: %q is neither an RFC 3339 time nor a duration", t.flag, t.v)
		}
	}
	return c, q, nil
}

// decisionLine is one record in a line of text.
func decisionLine(d castellan.DecisionRecord) string {
	result := "-"
	switch {
	case d.Error != "":
		result = "error: " + d.Error
	case d.Allowed != nil && *d.Allowed:
		result = "allowed"
	case d.Allowed != nil:
		result = "denied"
	case d.Count != nil:
		result = fmt.Sprintf("%d results", *d.Count)
	}
	resource := typeID(d.Resource)
	if resource == "" {
		resource = d.ResourceType
	}
	if resource == "" {
		resource = "-"
	}
	actor := typeID(d.Actor)
	if actor == "" {
		actor = "-"
	}
	cols := []string{d.Time.UTC().Format(time.RFC3339Nano), d.Endpoint, d.Caller, actor, or(d.Action, "-"), resource, result, fmt.Sprint("v", d.PolicyVersion), d.RequestID}
	if d.Replica != "" {
		cols = append(cols, d.Replica)
	}
	return strings.Join(cols, "\t")
}

func typeID(v castellan.Value) string {
	if v.Type == "" {
		return ""
	}
	return v.Type + ":" + v.ID
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

const decisionHeader = "TIME\tENDPOINT\tCALLER\tACTOR\tACTION\tRESOURCE\tRESULT\tPOLICY\tREQUEST"

// runAuditSearch prints one page of the server's decision log.
func runAuditSearch(ctx context.Context, e *env, args []string) error {
	f := newDecisionFlags(e, "audit search", "audit search [flags]",
		"Searches the server's decision log (GET /admin/v1/decisions, admin scope), newest first, one page at a time.")
	limit := f.fs.Int("limit", 0, "most records of the page (server default 100, at most 1000)")
	pageToken := f.fs.String("page-token", "", "continue a previous search (the next page token it printed)")
	c, q, err := f.connect(args)
	if err != nil {
		return err
	}
	r := f.r
	q.Limit, q.PageToken = *limit, *pageToken
	page, err := c.Decisions(ctx, q)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		return printJSON(e.stdout, page)
	}
	if err := printTable(r, "decisions", page.Decisions, decisionHeader, decisionLine); err != nil {
		return err
	}
	if page.NextPageToken != "" {
		fmt.Fprintf(e.stderr, "more: --page-token %s\n", page.NextPageToken)
	}
	return nil
}

// runAuditTail prints the newest records of the server's decision log,
// oldest first, and with -f polls for new ones.
func runAuditTail(ctx context.Context, e *env, args []string) error {
	f := newDecisionFlags(e, "audit tail", "audit tail [-n N] [-f] [flags]",
		"Prints the newest records of the server's decision log, oldest first (--json: one record per line); -f keeps polling for new ones.")
	n := f.fs.Int("n", 20, "how many of the newest records to print (at most 1000)")
	follow := f.fs.Bool("f", false, "keep printing new records (poll the server)")
	interval := f.fs.Duration("interval", time.Second, "how often -f polls")
	slack := f.fs.Duration("slack", 10*time.Second, "with -f: how far back each poll looks again for records written late (another replica's, or buffered longer)")
	c, q, err := f.connect(args)
	if err != nil {
		return err
	}
	if *n <= 0 || *interval <= 0 || *slack < 0 {
		return usageError("-n and --interval must be positive, --slack not negative")
	}
	r := f.r
	q.Limit = min(*n, 1000)
	print := func(ds []castellan.DecisionRecord) {
		for _, d := range ds {
			if r.json {
				fmt.Fprintln(e.stdout, string(d.Raw))
			} else {
				fmt.Fprintln(e.stdout, strings.ReplaceAll(decisionLine(d), "\t", "  "))
			}
		}
	}
	page, err := c.Decisions(ctx, q)
	if err != nil {
		return r.fail(err)
	}
	tf := &tailFollower{slack: *slack, seen: map[string]time.Time{}}
	print(tf.fresh(page.Decisions))
	if !*follow {
		return nil
	}
	floor := q.Since // --since, when given
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Every record since the newest printed less the slack, page by
		// page: the records of another replica, or buffered a little
		// longer, arrive after newer ones.
		q.Since, q.Limit, q.PageToken = tf.since(), 1000, ""
		if q.Since.Before(floor) {
			q.Since = floor
		}
		var all []castellan.DecisionRecord
		for {
			page, err := c.Decisions(ctx, q)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return r.fail(err)
			}
			all = append(all, page.Decisions...)
			if page.NextPageToken == "" {
				break
			}
			q.PageToken = page.NextPageToken
		}
		print(tf.fresh(all))
	}
}

// tailFollower is what `audit tail -f` remembers between polls: the
// records printed within slack of the newest printed, by chain and
// sequence number. Records are stamped when decided, before they are
// buffered, and each replica writes its own chain, so a record may appear
// after newer ones; each poll asks again for the last slack of time and
// prints what it has not printed.
type tailFollower struct {
	slack  time.Duration
	newest time.Time
	seen   map[string]time.Time
}

// since is the time the next poll starts at.
func (tf *tailFollower) since() time.Time {
	if tf.newest.IsZero() {
		return time.Time{}
	}
	return tf.newest.Add(-tf.slack)
}

// fresh returns the records of ds (newest first, as a page holds them)
// not printed before, oldest first, and remembers them.
func (tf *tailFollower) fresh(ds []castellan.DecisionRecord) []castellan.DecisionRecord {
	var out []castellan.DecisionRecord
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		key := fmt.Sprint(d.Replica, "/", d.Seq)
		if _, ok := tf.seen[key]; ok {
			continue
		}
		tf.seen[key] = d.Time
		if d.Time.After(tf.newest) {
			tf.newest = d.Time
		}
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b castellan.DecisionRecord) int { return a.Time.Compare(b.Time) })
	for k, t := range tf.seen {
		if t.Before(tf.since()) {
			delete(tf.seen, k)
		}
	}
	return out
}
