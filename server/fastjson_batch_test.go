package server

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The batch scans against their reference, encoding/json with the
// strictness of each endpoint (decodeBytes): whatever a scan takes, the
// reference takes and decodes to the same value.

var evaluationsBodies = []string{
	`{"evaluations":[{"subject":{"type":"User","id":"u1"},"action":{"name":"read"},"resource":{"type":"Repository","id":"r1"}},{"subject":{"type":"User","id":"u2"},"action":{"name":"push"},"resource":{"type":"Issue","id":"i1"}}]}`,
	` { "subject" : {"type":"User","id":"u7"}, "action":{"name":"read"}, "evaluations": [ {"resource":{"type":"R","id":"r"}}, {} ], "options": {"evaluations_semantic":"deny_on_first_deny"} } `,
	`{"subject":{"type":"User","id":"u"},"action":{"name":"a"},"resource":{"type":"R","id":"r"}}`,
	`{"evaluations":[]}`,
	`{}`,
	`{"subject":{},"evaluations":[{"subject":{"type":"Usér"}}]}`,
	// Given up: context, properties, unknown or repeated keys, null, escapes, bad syntax.
	`{"subject":{"type":"User","id":"u"},"context":{"context_facts":[]},"evaluations":[]}`,
	`{"evaluations":[{"subject":{"type":"User","id":"u","properties":{"a":1}}}]}`,
	`{"evaluations":[{"subject":{"type":"User","id":"u"},"subject":{"type":"User","id":"v"}}]}`,
	`{"evaluations":null}`,
	`{"Subject":{"type":"User","id":"u"}}`,
	`{"subject":{"type":"U\"ser","id":"u"}}`,
	`{"evaluations":[{},]}`,
	`{"evaluations":[{}]} {}`,
	`{"extension":"x","evaluations":[]}`,
	`{"options":{"evaluations_semantic":3}}`,
	`[]`,
	``,
}

var authorizeResourcesBodies = []string{
	`{"actor_type":"User","actor_id":"u1","action":"read","resources":[{"type":"Repository","id":"r1"},{"type":"Repository","id":"r1"}],"context_facts":[]}`,
	`{"actor_type":"User","actor_id":"u1","action":"read","resources":[],"context_facts":null}`,
	`{"resources":[{},{"type":"R"}]}`,
	`{}`,
	`{"actor_type":"User","resources":[{"type":"R","id":"r","extra":"x"}]}`,
	`{"actor_type":"User","resources":null}`,
	`{"actor_type":"User","attributes":[]}`,
	`{"actor_type":"User","context_facts":[{"predicate":"p","args":[]}]}`,
	`{"actor_type":"User","actor_type":"User"}`,
	`{"actor_type":"User"`,
}

var bulkActionsBodies = []string{
	`[{"actor_type":"User","actor_id":"u1","resource_type":"Repository","resource_id":"r1","context_facts":[]},{"actor_type":"User","actor_id":"u2","resource_type":"Issue","resource_id":"i1"}]`,
	`[]`,
	`[{}]`,
	`null`,
	`[{"actor_type":"User","bogus":1}]`,
	`[{"actor_type":"User","context_facts":[{}]}]`,
	`[{"actor_type":"User"},]`,
	`{"actor_type":"User"}`,
}

// scanMatches checks body with scan against encoding/json into a fresh T.
func scanMatches[T any](t *testing.T, body string, strict bool, scan func([]byte, *T) bool) (took bool) {
	t.Helper()
	var got T
	if !scan([]byte(body), &got) {
		return false
	}
	var want T
	if err := decodeBytes([]byte(body), &want, strict); err != nil {
		t.Fatalf("scan took %q, encoding/json refuses it: %v", body, err)
	}
	if !cmp.Equal(want, got, cmpopts.EquateEmpty(), cmp.AllowUnexported(azEvaluationsRequest{})) {
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(got)
		t.Fatalf("body %q: encoding/json %s, scan %s", body, w, g)
	}
	return true
}

func TestScanBatches(t *testing.T) {
	// How many of each list's bodies (the first ones) the scan takes.
	for _, tc := range []struct {
		name   string
		bodies []string
		fast   int
		check  func(t *testing.T, body string) bool
	}{
		{"evaluations", evaluationsBodies, 6, func(t *testing.T, b string) bool { return scanMatches(t, b, false, scanEvaluations) }},
		{"authorize_resources", authorizeResourcesBodies, 4, func(t *testing.T, b string) bool { return scanMatches(t, b, true, scanAuthorizeResources) }},
		{"bulk_actions", bulkActionsBodies, 3, func(t *testing.T, b string) bool { return scanMatches(t, b, true, scanBulkActions) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, body := range tc.bodies {
				if took := tc.check(t, body); took != (i < tc.fast) {
					t.Errorf("scan took %q: %v, want %v", body, took, i < tc.fast)
				}
			}
		})
	}
}

func FuzzScanEvaluations(f *testing.F) {
	for _, b := range evaluationsBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) { scanMatches(t, body, false, scanEvaluations) })
}

func FuzzScanAuthorizeResources(f *testing.F) {
	for _, b := range authorizeResourcesBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) { scanMatches(t, body, true, scanAuthorizeResources) })
}

func FuzzScanBulkActions(f *testing.F) {
	for _, b := range bulkActionsBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) { scanMatches(t, body, true, scanBulkActions) })
}
