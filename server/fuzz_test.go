package server

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store/memory"
)

// fuzzRoutes are the endpoints FuzzAPI sends bodies to.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/batch"},
	{"POST", "/api/authorize"},
	{"POST", "/api/authorize?explain=true"},
	{"POST", "/api/list"},
	{"POST", "/api/actions"},
	{"POST", "/api/evaluate_query"},
	{"POST", "/api/query"},
	{"POST", "/api/authorize_resources"},
	{"POST", "/api/bulk_actions"},
	{"POST", "/api/bulk"},
	{"POST", "/api/facts"},
	{"DELETE", "/api/facts"},
	{"POST", "/api/policy"},
	{"POST", "/access/v1/evaluation"},
	{"POST", "/access/v1/evaluations"},
	{"POST", "/access/v1/search/subject"},
	{"POST", "/access/v1/search/resource"},
	{"POST", "/access/v1/search/action"},
	{"POST", "/admin/v1/keys"},
	{"GET", "/api/facts?predicate=has_role&args.0.type=User"},
}

// FuzzAPI checks that no body makes any endpoint fail with a 5xx or answer
// something other than JSON.
func FuzzAPI(f *testing.F) {
	seeds := []string{
		`[{"inserts":[{"predicate":"has_role","args":[{"type":"User","id":"a"},{"type":"String","id":"owner"},{"type":"Organization","id":"o"}]}]}]`,
		`[{"deletes":[{"predicate":null,"args":[{"type":null,"id":null}]}]}]`,
		`{"actor_type":"User","actor_id":"a","action":"read","resource_type":"Organization","resource_id":"o","context_facts":[{"predicate":"has_role","args":[{"type":"User","id":"a"},{"type":"String","id":"member"},{"type":"Organization","id":"o"}]}]}`,
		`{"actor_type":"User","actor_id":"a","action":"read","resource_type":"Repository","page_size":1,"page_token":"x"}`,
		`{"predicate":["allow",["u","a","r"]],"calls":[["has_role",["u","x","r"]]],"constraints":{"u":{"type":"User","ids":["a"]},"a":{"type":"String","ids":null},"r":{"type":"Repository","ids":null},"x":{"type":"String"}}}`,
		`{"fact":{"predicate":"has_role","args":[{"type":null,"id":null},{"type":"String","id":"owner"},{"type":"Integer","id":"007"}]}}`,
		`{"subject":{"type":"User","id":"a"},"action":{"name":"read"},"resource":{"type":"Repository"},"page":{"limit":1,"token":"eA"},"context":{"context_facts":[]}}`,
		`{"subject":{"type":"User"},"evaluations":[{},{"action":{"name":"x"}}],"options":{"evaluations_semantic":"deny_on_first_deny"}}`,
		`{"filename":null,"src":"actor User {}\nresource R { roles = [\"a\"]; permissions = [\"p\"]; \"p\" if \"a\"; }"}`,
		`{"files":[{"filename":"a","src":"test \"t\" { assert allow(User{\"a\"}, \"p\", R{\"r\"}); }"}]}`,
		`{"name":"k","scope":"read"}`,
		`{"delete":[{"predicate":"has_role","args":[{"type":"User","id":null}]}],"tell":[]}`,
		`[{"actor_type":"User","actor_id":"a","resource_type":"R","resource_id":"r"}]`,
		`null`, `[]`, `{}`, `"x"`, `1e999`, `{"args":[{"type":"Boolean","id":"maybe"}]}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	st := memory.New()
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.MaxContextFacts = 5
	cfg.MaxBatchFacts = 50
	cfg.MaxPageSize = 10
	srv, err := New(f.Context(), cfg, st, WithLogger(zerolog.New(io.Discard)))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := srv.Policies().Load(f.Context(), []policy.File{{Filename: "p.polar", Src: testPolicy}}, "fuzz"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequestWithContext(t.Context(), rt.method, rt.path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: not JSON: %q", rt.method, rt.path, body, rec.Body)
		}
	})
}
