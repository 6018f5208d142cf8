package main

// authorize-batch: many authorize questions from a file, asked through the
// AuthZEN batch endpoint.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const authorizeBatchHelp = `Asks every question of FILE (JSON Lines; - reads standard input) and prints one
answer per line, in order: allowed or denied (with --json, {"allowed": true}),
or "error: MESSAGE" for a question the server could not evaluate. A line is
  {"actor": "User:bob", "action": "read", "resource": "Repository:anvil",
   "context": ["has_relation Action:1 repository Repository:anvil"]}
with values written as on the command line (or as {"type": ..., "id": ...});
"context" is optional and replaces, for its line, the facts of -c. Blank lines
are skipped. The questions go to POST /access/v1/evaluations, up to
--batch-size per request, each request answered at one revision.
Exits 0 when every answer is allowed, 1 when one is denied, 3 on an error.`

// batchQuestion is one line of an authorize-batch file.
type batchQuestion struct {
	Actor    json.RawMessage `json:"actor"`
	Action   string          `json:"action"`
	Resource json.RawMessage `json:"resource"`
	Context  []string        `json:"context"`
}

func runAuthorizeBatch(ctx context.Context, e *env, args []string) error {
	fs, r, cf := newQuestionFlags(e, "authorize-batch", "authorize-batch FILE [-c FACT]... [flags]", authorizeBatchHelp)
	size := fs.Int("batch-size", 500, "most questions sent in one request")
	args, err := parseArgsBetween(fs, args, 1, 1)
	if err != nil {
		return helpOr(err)
	}
	if *size < 1 {
		return usageError("authorize-batch: --batch-size must be at least 1")
	}
	items, err := readBatchFile(e, args[0])
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	denied, failed := false, false
	for start := 0; start < len(items); start += *size {
		chunk := items[start:min(start+*size, len(items))]
		res, err := c.Evaluations(ctx, castellan.ExecuteAll, chunk, cf.options()...)
		if err != nil {
			return r.fail(err)
		}
		for _, a := range res {
			denied = denied || !a.Allowed
			failed = failed || a.Err != nil
			if err := printBatchAnswer(r, a); err != nil {
				return err
			}
		}
	}
	switch {
	case failed:
		return errReported
	case denied:
		return errFailed
	}
	return nil
}

// printBatchAnswer prints one answer line.
func printBatchAnswer(r *remote, a castellan.EvaluationResult) error {
	if r.json {
		out := struct {
			Allowed bool   `json:"allowed"`
			Error   string `json:"error,omitempty"`
		}{Allowed: a.Allowed}
		if a.Err != nil {
			out.Error = a.Err.Error()
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(r.e.stdout, "%s\n", b)
		return err
	}
	switch {
	case a.Err != nil:
		fmt.Fprintln(r.e.stdout, "error:", a.Err)
	case a.Allowed:
		fmt.Fprintln(r.e.stdout, "allowed")
	default:
		fmt.Fprintln(r.e.stdout, "denied")
	}
	return nil
}

// readBatchFile reads and checks every question of name ("-": stdin); a
// malformed line is a usage error naming it.
func readBatchFile(e *env, name string) ([]castellan.AccessRequest, error) {
	var in io.Reader = e.stdin
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return nil, usageError("authorize-batch: %v", err)
		}
		defer fh.Close()
		in = fh
	}
	var items []castellan.AccessRequest
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		it, err := parseBatchLine(line)
		if err != nil {
			return nil, usageError("authorize-batch: %s:%d: %v", name, n, err)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, usageError("authorize-batch: %s: %v", name, err)
	}
	if len(items) == 0 {
		return nil, usageError("authorize-batch: %s has no questions", name)
	}
	return items, nil
}

// parseBatchLine reads one question.
func parseBatchLine(line []byte) (castellan.AccessRequest, error) {
	var q batchQuestion
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return castellan.AccessRequest{}, fmt.Errorf("not a question (%v)", err)
	}
	var it castellan.AccessRequest
	var err error
	if it.Subject, err = batchValue("actor", q.Actor); err != nil {
		return it, err
	}
	if it.Resource, err = batchValue("resource", q.Resource); err != nil {
		return it, err
	}
	if q.Action == "" {
		return it, fmt.Errorf("action is required")
	}
	it.Action = q.Action
	for _, c := range q.Context {
		var cf contextFlag
		if err := cf.Set(c); err != nil {
			return it, err
		}
		it.ContextFacts = append(it.ContextFacts, cf.facts...)
	}
	return it, nil
}

// batchValue reads a value written "Type:id" or {"type": ..., "id": ...}.
func batchValue(field string, raw json.RawMessage) (castellan.Value, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return castellan.Value{}, fmt.Errorf("%s is required", field)
	}
	var v castellan.Value
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return v, fmt.Errorf("%s: %v", field, err)
		}
		v, err := parseValue(s, false)
		if err != nil {
			return v, fmt.Errorf("%s: %v", field, err)
		}
		return v, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Type == "" || v.ID == "" {
		return v, fmt.Errorf(`%s: want "Type:id" or {"type": ..., "id": ...}`, field)
	}
	return v, nil
}
