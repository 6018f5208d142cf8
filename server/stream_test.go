package server

import (
	"fmt"
	"strings"
	"testing"
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
