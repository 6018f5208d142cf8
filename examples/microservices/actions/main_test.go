package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// TestRerunSendsTheRepositoryAsContext checks the service's side of the
// contract: every question carries the action's repository as a context
// fact, and the answer maps to 202 or 403.
func TestRerunSendsTheRepositoryAsContext(t *testing.T) {
	var got []map[string]any
	authz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("decoding: %v", err)
		}
		got = append(got, body)
		io.WriteString(w, `{"allowed":`+map[bool]string{true: "true", false: "false"}[body["actor_id"] == "alice"]+`}`)
	}))
	t.Cleanup(authz.Close)
	svc := &service{
		authz:        castellan.New(authz.URL, ""),
		repositoryOf: map[string]string{"1": "anvil"},
		log:          log.New(io.Discard, "", 0),
	}
	tests := []struct {
		user, action string
		want         int
	}{
		{"alice", "1", http.StatusAccepted},
		{"bob", "1", http.StatusForbidden},
		{"alice", "9", http.StatusNotFound},
		{"", "1", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodPost, "/actions/"+tc.action+"/rerun", nil)
		if tc.user != "" {
			req.Header.Set("X-User", tc.user)
		}
		rec := httptest.NewRecorder()
		svc.routes().ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s reruns %s: status %d, want %d", tc.user, tc.action, rec.Code, tc.want)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d questions asked, want 2", len(got))
	}
	wantContext := []any{map[string]any{"predicate": "has_relation", "args": []any{
		map[string]any{"type": "Action", "id": "1"},
		map[string]any{"type": "String", "id": "repository"},
		map[string]any{"type": "Repository", "id": "anvil"},
	}}}
	for _, body := range got {
		if diff := cmp.Diff(wantContext, body["context_facts"]); diff != "" {
			t.Errorf("context facts (-want +got):\n%s", diff)
		}
		if body["action"] != "rerun" || body["resource_type"] != "Action" {
			t.Errorf("question %v", body)
		}
	}
}
