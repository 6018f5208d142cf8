package evaluator

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
)

// A scenario file (testdata/scenarios/*.txtar) has three sections:
//
//	-- policy.polar --   the policy (its test blocks must pass)
//	-- facts --          stored facts, one per line: pred Arg...
//	-- checks --         one check per line, with the expected answer:
//	    authorize ACTOR ACTION RESOURCE => allow|deny
//	    actions ACTOR RESOURCE => action...
//	    list ACTOR ACTION TYPE => [*] id...        (* = wildcard)
//	    query PRED ARG... [& PRED ARG...] => row | row ...
//	    now UNIXSECONDS                          (sets the clock)
//	    + pred Arg...                            (a context fact for the next check)
//
// A value is Type:id, a bare word (a String) or "quoted string". A query
// ARG is ?name:Type or ?name:Type=id,id; a row is name=id ... sorted by
// name, with * for a wildcard. '#' starts a comment.
type scenario struct {
	name   string
	policy string
	facts  []term.Fact
	checks []check
}

type check struct {
	line    int
	verb    string
	args    []string
	want    string
	context []term.Fact
	now     int64
}

func loadScenario(tb testing.TB, path string) scenario {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sc := scenario{name: filepath.Base(path)}
	section := ""
	var policy strings.Builder
	var ctx []term.Fact
	var now int64 = 1_700_000_000
	sn := bufio.NewScanner(strings.NewReader(string(data)))
	for ln := 1; sn.Scan(); ln++ {
		line := sn.Text()
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			section = strings.TrimSuffix(strings.TrimPrefix(line, "-- "), " --")
			continue
		}
		if section == "policy.polar" {
			policy.WriteString(line + "\n")
			continue
		}
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		switch section {
		case "facts":
			sc.facts = append(sc.facts, parseFact(tb, path, ln, strings.Fields(line)))
		case "checks":
			lhs, rhs, hasWant := strings.Cut(line, "=>")
			f := strings.Fields(lhs)
			switch {
			case f[0] == "+":
				ctx = append(ctx, parseFact(tb, path, ln, f[1:]))
			case f[0] == "now":
				n, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					tb.Fatalf("%s:%d: %v", path, ln, err)
				}
				now = n
			case hasWant:
				sc.checks = append(sc.checks, check{line: ln, verb: f[0], args: f[1:], want: strings.Join(strings.Fields(rhs), " "), context: ctx, now: now})
				ctx = nil
			default:
				tb.Fatalf("%s:%d: a check needs => and the expected answer", path, ln)
			}
		}
	}
	sc.policy = policy.String()
	return sc
}

func parseValue(s string) term.Value {
	if strings.HasPrefix(s, `"`) {
		if u, err := strconv.Unquote(s); err == nil {
			return term.String(u)
		}
	}
	typ, id, ok := strings.Cut(s, ":")
	if !ok {
		return term.String(s)
	}
	v, err := term.Normalize(term.Value{Type: typ, ID: id})
	if err != nil {
		return term.Value{Type: typ, ID: id}
	}
	return v
}

func parseFact(tb testing.TB, path string, ln int, f []string) term.Fact {
	tb.Helper()
	if len(f) < 2 {
		tb.Fatalf("%s:%d: a fact needs a predicate and arguments", path, ln)
	}
	fact := term.Fact{Predicate: f[0]}
	for _, a := range f[1:] {
		fact.Args = append(fact.Args, parseValue(a))
	}
	return fact
}

// run evaluates one check and renders the answer in the format of the
// expectation.
func (c check) run(tb testing.TB, e *Evaluator, src Source) (string, error) {
	tb.Helper()
	ctx := tb.Context()
	req := Request{Source: src, Context: c.context}
	switch c.verb {
	case "authorize":
		d, err := e.Authorize(ctx, req, parseValue(c.args[0]), c.args[1], parseValue(c.args[2]))
		if d.Allowed {
			return "allow", err
		}
		return "deny", err
	case "actions":
		acts, err := e.Actions(ctx, req, parseValue(c.args[0]), parseValue(c.args[1]))
		return strings.Join(acts, " "), err
	case "list":
		res, err := e.List(ctx, req, parseValue(c.args[0]), c.args[1], c.args[2], Page{})
		out := res.IDs
		if res.Wildcard {
			out = append([]string{"*"}, out...)
		}
		return strings.Join(out, " "), err
	case "query":
		q, err := parseQuery(c.args)
		if err != nil {
			return "", err
		}
		rows, err := e.Query(ctx, req, q)
		return renderRows(rows), err
	}
	return "", fmt.Errorf("unknown check %q", c.verb)
}

func parseQuery(args []string) (Query, error) {
	q := Query{Constraints: map[string]Constraint{}}
	var calls []Call
	for len(args) > 0 {
		cl := Call{Name: args[0]}
		args = args[1:]
		for len(args) > 0 && args[0] != "&" {
			a := args[0]
			args = args[1:]
			if !strings.HasPrefix(a, "?") {
				return q, fmt.Errorf("query argument %q is not ?name:Type", a)
			}
			name, rest, _ := strings.Cut(a[1:], ":")
			typ, ids, hasIDs := strings.Cut(rest, "=")
			con := Constraint{Type: typ}
			if hasIDs {
				con.IDs = strings.Split(ids, ",")
			}
			q.Constraints[name] = con
			cl.Args = append(cl.Args, name)
		}
		if len(args) > 0 {
			args = args[1:]
		}
		calls = append(calls, cl)
	}
	if len(calls) == 0 {
		return q, fmt.Errorf("empty query")
	}
	q.Predicate, q.Calls = calls[0], calls[1:]
	return q, nil
}

func renderRows(rows []Row) string {
	out := make([]string, len(rows))
	for i, r := range rows {
		names := make([]string, 0, len(r))
		for n := range r {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for j, n := range names {
			v := "*"
			if r[n] != nil {
				v = *r[n]
			}
			parts[j] = n + "=" + v
		}
		out[i] = strings.Join(parts, " ")
	}
	return strings.Join(out, " | ")
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		sc := loadScenario(t, path)
		stores := []struct {
			name string
			src  func(t *testing.T) Source
		}{
			{"slice", func(*testing.T) Source { return &sliceSource{facts: sc.facts} }},
			{"memory", func(t *testing.T) Source { return loadMemory(t, sc.facts) }},
		}
		for _, st := range stores {
			t.Run(name+"/store="+st.name, func(t *testing.T) {
				runScenario(t, path, sc, st.src(t))
			})
		}
	}
}

func runScenario(t *testing.T, path string, sc scenario, src Source) {
	t.Helper()
	prog := mustCompile(t, sc.policy)
	var now int64
	e := New(prog, WithClock(func() time.Time { return time.Unix(now, 0) }))
	for _, r := range e.RunTests(t.Context()) {
		for _, f := range r.Failures {
			t.Errorf("%s: policy test %q: %s: %s", f.Pos, r.Name, f.Assertion, f.Message)
		}
	}
	for _, c := range sc.checks {
		now = c.now
		got, err := c.run(t, e, src)
		if err != nil {
			t.Errorf("%s:%d: %s %s: %v", path, c.line, c.verb, strings.Join(c.args, " "), err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:%d: %s %s\n got: %s\nwant: %s", path, c.line, c.verb, strings.Join(c.args, " "), got, c.want)
		}
	}
}
