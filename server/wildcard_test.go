package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestNoWildcardFromTheWire checks that no action or id of a question is
// read as "any value", whatever its bytes: the evaluator's wildcards are
// internal (before, an id or action starting with a NUL byte was one, and
// a reader of one repository could "read" Repository "\u0000x").
func TestNoWildcardFromTheWire(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	ask := func(action, resourceID string) map[string]any {
		return map[string]any{"actor_type": "User", "actor_id": "alice", "action": action, "resource_type": "Organization", "resource_id": resourceID}
	}
	var got struct {
		Allowed bool `json:"allowed"`
	}
	e.must(t, http.StatusOK, "POST", "/api/authorize", ask("read", "acme")).json(t, &got)
	if !got.Allowed {
		t.Fatal("setup: the owner cannot read acme")
	}
	for _, action := range []string{"\x00*", "\x00=0", "\x00x"} {
		got.Allowed = true
		e.must(t, http.StatusOK, "POST", "/api/authorize", ask(action, "acme")).json(t, &got)
		if got.Allowed {
			t.Errorf("action %q: allowed", action)
		}
	}
	for _, id := range []string{"\x00*", "\x00x"} {
		r := e.must(t, http.StatusBadRequest, "POST", "/api/authorize", ask("read", id))
		if msg := r.envelope(t).Message; !strings.Contains(msg, "NUL") {
			t.Errorf("resource id %q: message %q, want one about the NUL byte", id, msg)
		}
	}
}
