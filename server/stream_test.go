package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// streamLines splits a streamed answer into its lines.
func streamLines(r response) []string {
	return strings.Split(strings.TrimSpace(string(r.body)), "\n")
}

func TestImportStream(t *testing.T) {
	e := newTestEnv(t, &Config{MaxBodyBytes: 1 << 10, MaxBatchFacts: 100, MaxPageSize: 10, QueryTimeout: 10e9, ConsistencyTimeout: 1e9, Dev: true})
	e.uploadPolicy(t, testPolicy)
	line := `{"predicate":"has_role","args":[{"type":"User","id":"u%d"},{"type":"String","id":"reader"},{"type":"Repository","id":"anvil"}]}` + "\n"
	var body strings.Builder
	for i := range 250 { // ~30 KiB: far past MaxBodyBytes, which the stream is not held to
		body.WriteString(strings.Replace(line, "%d", strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26), 1))
	}
	tests := []struct {
		name, query, body string
		wantLast          string
		wantErr           string // a line of the answer contains it
	}{
		{name: "past the body limit", body: body.String(), wantLast: `"done":true,"lines":250,"facts":250`},
		{name: "invalid UTF-8", query: "?max_errors=5", body: "{\"predicate\":\"has_role\",\"args\":[{\"type\":\"User\",\"id\":\"\xff\"}]}\n", wantErr: `"line":1`},
		{name: "duplicate key", query: "?max_errors=5", body: `{"predicate":"a","predicate":"b","args":[]}` + "\n", wantErr: "duplicate key"},
		{name: "unknown field", query: "?max_errors=5", body: `{"predicate":"a","args":[],"x":1}` + "\n", wantErr: "unknown field"},
		{name: "not in the policy", body: `{"predicate":"has_role","args":[{"type":"User","id":"a"}]}` + "\n", wantErr: "invalid fact", wantLast: `"done":false`},
		{name: "line too long", query: "?max_errors=5", body: `{"predicate":"` + strings.Repeat("p", maxStreamLine+10) + "\"}\n" + strings.Replace(line, "%d", "z", 1), wantErr: "exceeds the limit", wantLast: `"facts":1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(t, 200, "POST", routeImport+tc.query, tc.body)
			lines := streamLines(r)
			if tc.wantLast != "" && !strings.Contains(lines[len(lines)-1], tc.wantLast) {
				t.Errorf("last line %s, want %s", lines[len(lines)-1], tc.wantLast)
			}
			if tc.wantErr != "" && !strings.Contains(string(r.body), tc.wantErr) {
				t.Errorf("answer %s lacks %q", r.body, tc.wantErr)
			}
		})
	}
	if n := e.numFacts(t); n != 251 {
		t.Errorf("%d facts stored, want 251", n)
	}
	e.must(t, 400, "POST", routeImport+"?batch_size=101", "")
}

func TestStreamScopes(t *testing.T) {
	e := newAdminEnv(t, nil)
	r := e.must(t, 201, "POST", "/admin/v1/keys", map[string]string{"name": "r", "scope": "read"})
	var k struct{ Key string }
	r.json(t, &k)
	e.must(t, 403, "POST", routeImport, "", "Authorization", "Bearer "+k.Key)
	e.must(t, 403, "GET", routeBackup, nil, "Authorization", "Bearer "+k.Key)
	r = e.must(t, 200, "GET", routeExport+"?predicate=has_role", nil, "Authorization", "Bearer "+k.Key)
	if got := streamLines(r); len(got) != 1 || !strings.HasPrefix(got[0], `{"revision":`) {
		t.Errorf("export of an empty store: %q", got)
	}
	e.must(t, 400, "POST", routeRestore, "{}\n")
}

// TestImportStreamStops: the next batch is read while one commits, yet a
// load that stops applies nothing from the batch it stops in on, and names
// that batch's first line to resume from: whether the store refuses a fact
// (the committer stops) or a line is malformed (the reader stops).
func TestImportStreamStops(t *testing.T) {
	line := func(i int) string {
		return fmt.Sprintf(`{"predicate":"has_role","args":[{"type":"User","id":"s%d"},{"type":"String","id":"reader"},{"type":"Repository","id":"anvil"}]}`+"\n", i)
	}
	body := func(bad int, badLine string) string {
		var b strings.Builder
		for i := 1; i <= 30; i++ {
			if i == bad {
				b.WriteString(badLine)
				continue
			}
			b.WriteString(line(i))
		}
		return b.String()
	}
	refused := `{"predicate":"has_role","args":[{"type":"User","id":"a"}]}` + "\n" // not in the policy
	tests := []struct {
		name, body, wantLast string
		facts                int
	}{
		{"the store refuses line 15", body(15, refused), `"resume":11`, 10},
		{"line 25 is malformed", body(25, "{nope\n"), `"resume":21`, 20},
		{"all good", body(0, ""), `"done":true,"lines":30,"facts":30`, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			e.uploadPolicy(t, testPolicy)
			lines := streamLines(e.must(t, 200, "POST", routeImport+"?batch_size=10", tc.body))
			if last := lines[len(lines)-1]; !strings.Contains(last, tc.wantLast) {
				t.Errorf("last line %s, want %s", last, tc.wantLast)
			}
			if n := e.numFacts(t); n != tc.facts {
				t.Errorf("%d facts stored, want %d", n, tc.facts)
			}
		})
	}
}

// failingStore fails (or panics in) its third write of facts; prepared
// says whether it offers store.PreparedWriter (the memory and PostgreSQL stores)
// or only Write (a store without it).
type failingStore struct {
	*memory.Store
	writes int
	panics bool
}

var errThirdWrite = errors.New("the third write fails")

func (s *failingStore) fail() error {
	if s.writes++; s.writes == 3 {
		if s.panics {
			panic("the third write panics")
		}
		return errThirdWrite
	}
	return nil
}

func (s *failingStore) WritePrepared(ctx context.Context, p store.Prepared) (store.Revision, error) {
	if len(p.Ops()) > 0 && len(p.Ops()[0].Insert) > 0 {
		if err := s.fail(); err != nil {
			return 0, err
		}
	}
	return s.Store.WritePrepared(ctx, p)
}

// writeOnly hides WritePrepared: the loader then leaves the checks to Write.
type writeOnly struct {
	store.Backend
	fs *failingStore
}

func (s writeOnly) Write(ctx context.Context, batch []store.Op, opts ...store.WriteOption) (store.Revision, error) {
	if len(batch) > 0 && len(batch[0].Insert) > 0 {
		if err := s.fs.fail(); err != nil {
			return 0, err
		}
	}
	return s.fs.Store.Write(ctx, batch, opts...)
}

// TestImportStreamWriteFails: when the store fails a batch, nothing after
// it is applied or reported (the lines the reader took ahead included),
// and the load names the failed batch's first line to resume from, on
// both of the loader's paths; a panic in the store fails the load, not the
// process.
func TestImportStreamWriteFails(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 60; i++ {
		if i == 45 {
			b.WriteString("{nope\n") // in a batch after the failed one
			continue
		}
		fmt.Fprintf(&b, `{"predicate":"has_role","args":[{"type":"User","id":"w%d"},{"type":"String","id":"reader"},{"type":"Repository","id":"anvil"}]}`+"\n", i)
	}
	for _, tc := range []struct {
		name     string
		prepared bool
		panics   bool
		want     string
	}{
		{"prepared", true, false, "internal error"}, // an unknown error is not shown
		{"write only", false, false, "internal error"},
		{"prepared, panics", true, true, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &failingStore{Store: memory.New(), panics: tc.panics}
			var st store.Backend = fs
			if !tc.prepared {
				st = writeOnly{Backend: fs.Store, fs: fs}
			}
			cfg := DefaultConfig()
			cfg.Dev = true
			e := newTestEnvOn(t, cfg, st)
			e.uploadPolicy(t, testPolicy)
			lines := streamLines(e.must(t, 200, "POST", routeImport+"?batch_size=10&max_errors=5", b.String()))
			last := lines[len(lines)-1]
			if !strings.Contains(last, `"done":false`) || !strings.Contains(last, `"facts":20`) || !strings.Contains(last, `"resume":21`) {
				t.Errorf("last line %s, want done false, 20 facts, resume 21", last)
			}
			if !strings.Contains(last, tc.want) {
				t.Errorf("last line %s does not say %q", last, tc.want)
			}
			for _, l := range lines {
				if strings.Contains(l, `"line":45`) {
					t.Errorf("line 45, after the failed batch, was reported: %s", l)
				}
			}
			if n := e.numFacts(t); n != 20 {
				t.Errorf("%d facts stored, want 20", n)
			}
		})
	}
}
