package server

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLocalAuthorizationIsNotImplemented(t *testing.T) {
	e := newTestEnv(t, nil)
	want := envelope{
		Message: "local authorization (SQL generation from data bindings) is not supported by Castellan; use /api/authorize, /api/list, /api/actions or /api/evaluate_query",
		Code:    "not_implemented",
		Details: []any{},
	}
	body := map[string]any{
		"query":         map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "resource_id": "anvil"},
		"data_bindings": "facts: {}\n",
	}
	for _, path := range []string{"/api/authorize_query", "/api/list_query", "/api/actions_query", "/api/evaluate_query_local"} {
		t.Run(path, func(t *testing.T) {
			r := e.must(t, http.StatusNotImplemented, "POST", path, body)
			if diff := cmp.Diff(want, r.envelope(t)); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q, want application/json", got)
			}
		})
	}
}

func TestLocalAuthorizationNeedsAKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = "admin-secret-0123456789"
	e := newTestEnv(t, &cfg)
	e.must(t, http.StatusUnauthorized, "POST", "/api/authorize_query", `{}`)
}
