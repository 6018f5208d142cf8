package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeysAndScopes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = "bootstrap-admin-secret"
	e := newTestEnv(t, &cfg)
	e.key = cfg.AdminKey
	e.uploadPolicy(t, testPolicy)

	keys := map[string]string{}
	ids := map[string]string{}
	for _, scope := range []string{"read", "write", "admin"} {
		var k map[string]any
		e.must(t, http.StatusCreated, "POST", "/admin/v1/keys", map[string]any{"name": "svc-" + scope, "scope": scope}).json(t, &k)
		secret, _ := k["key"].(string)
		if !strings.HasPrefix(secret, keyPrefix) || k["scope"] != scope || k["name"] != "svc-"+scope || k["id"] == "" || k["created_at"] == "" {
			t.Fatalf("created key %v", k)
		}
		keys[scope], ids[scope] = secret, k["id"].(string)
	}
	var list struct {
		Keys []map[string]any `json:"keys"`
	}
	e.must(t, http.StatusOK, "GET", "/admin/v1/keys", nil).json(t, &list)
	if len(list.Keys) != 3 {
		t.Fatalf("listed %d keys, want 3", len(list.Keys))
	}
	for _, k := range list.Keys {
		if _, ok := k["key"]; ok {
			t.Errorf("a listed key shows its secret: %v", k)
		}
		if len(k) != 4 {
			t.Errorf("listed key %v: want exactly id, name, scope, created_at", k)
		}
	}

	authz := map[string]any{"actor_type": "User", "actor_id": "a", "action": "read", "resource_type": "Organization", "resource_id": "o"}
	write := []any{map[string]any{"inserts": []any{fact("has_role", "User:a", "member", "Organization:o")}}}
	policy := map[string]any{"src": testPolicy}
	tests := []struct {
		scope                   string
		check, writeOK, adminOK int
	}{
		{"read", 200, 403, 403},
		{"write", 200, 200, 403},
		{"admin", 200, 200, 202},
	}
	for _, tc := range tests {
		t.Run(tc.scope, func(t *testing.T) {
			auth := "Bearer " + keys[tc.scope]
			e.must(t, tc.check, "POST", "/api/authorize", authz, "Authorization", auth)
			e.must(t, tc.writeOK, "POST", "/api/batch", write, "Authorization", auth)
			e.must(t, tc.adminOK, "POST", "/api/policy", policy, "Authorization", auth)
		})
	}

	e.must(t, http.StatusOK, "DELETE", "/admin/v1/keys/"+ids["read"], nil)
	r := e.must(t, http.StatusUnauthorized, "POST", "/api/authorize", authz, "Authorization", "Bearer "+keys["read"])
	if r.envelope(t).Code != codeUnauthenticated {
		t.Errorf("deleted key: %s", r.body)
	}
	// A wrong secret for an existing id is refused.
	id, _, _ := splitKey(keys["write"])
	e.must(t, http.StatusUnauthorized, "POST", "/api/authorize", authz, "Authorization", "Bearer "+keyPrefix+id+"_wrongsecret")
}

func TestDevMode(t *testing.T) {
	e := newTestEnv(t, nil)
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"src": testPolicy}, "Authorization", "")
	e.must(t, http.StatusAccepted, "POST", "/api/policy", map[string]any{"src": testPolicy}, "Authorization", "Bearer "+DevToken)
	var h struct {
		Policies []policyVersionInfo `json:"policies"`
	}
	e.must(t, http.StatusOK, "GET", "/admin/v1/policies", nil).json(t, &h)
	if len(h.Policies) != 1 || h.Policies[0].CreatedBy != callerDev {
		t.Errorf("history %+v: want one version created by %q", h.Policies, callerDev)
	}
}

func TestPolicyVersionsAndRollback(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	other := "actor User {}\nresource Doc { permissions = [\"read\"]; }\nhas_permission(_: User, \"read\", _: Doc);\n"
	e.uploadPolicy(t, other)
	if !e.authorize(t, "User:x", "read", "Doc:d") {
		t.Fatal("version 2 not live")
	}

	var h struct {
		Policies []policyVersionInfo `json:"policies"`
	}
	e.must(t, http.StatusOK, "GET", "/admin/v1/policies", nil).json(t, &h)
	var got []int64
	for _, p := range h.Policies {
		got = append(got, p.Version)
		if p.CreatedAt == "" || len(p.Files) != 1 || p.Files[0] != "policy.polar" {
			t.Errorf("history entry %+v", p)
		}
	}
	if diff := cmp.Diff([]int64{2, 1}, got); diff != "" || !h.Policies[0].Live || h.Policies[1].Live {
		t.Errorf("history versions (-want +got):\n%s\n%+v", diff, h.Policies)
	}

	for _, tc := range []struct {
		query, block string
	}{{"", "Doc"}, {"?version=1", "Organization"}, {"?id=1", "Organization"}, {"?version=2", "Doc"}} {
		var md struct {
			Metadata struct {
				Resources map[string]any `json:"resources"`
			} `json:"metadata"`
		}
		e.must(t, http.StatusOK, "GET", "/api/policy_metadata"+tc.query, nil).json(t, &md)
		if _, ok := md.Metadata.Resources[tc.block]; !ok {
			t.Errorf("policy_metadata%s lacks %s: %v", tc.query, tc.block, md)
		}
	}
	e.must(t, http.StatusNotFound, "GET", "/api/policy_metadata?version=9", nil)

	var v1 policyVersion
	e.must(t, http.StatusOK, "GET", "/admin/v1/policies/1", nil).json(t, &v1)
	if v1.Version != 1 || v1.Live || len(v1.Files) != 1 || v1.Files[0].Src != testPolicy {
		t.Errorf("version 1 = %+v", v1)
	}
	var old map[string]any
	e.must(t, http.StatusOK, "GET", "/api/policy?id=1", nil).json(t, &old)
	if p, _ := old["policy"].(map[string]any); p == nil || p["src"] != testPolicy {
		t.Errorf("GET /api/policy?id=1 = %v", old)
	}

	var act policyVersion
	e.must(t, http.StatusOK, "POST", "/admin/v1/policies/1/activate", nil).json(t, &act)
	if act.Version != 1 || !act.Live {
		t.Errorf("activate answered %+v", act)
	}
	if e.liveVersion() != 1 || e.authorize(t, "User:x", "read", "Doc:d") {
		t.Error("rollback did not bring version 1 back")
	}
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	if !e.authorize(t, "User:alice", "read", "Organization:acme") {
		t.Error("version 1 does not answer after rollback")
	}
}

// TestLoadAtStart checks that a new server on a store with a live policy
// answers under it.
func TestLoadAtStart(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	e2 := newTestEnvOn(t, e.srv.cfg, e.store)
	if e2.liveVersion() != 1 || !e2.authorize(t, "User:alice", "read", "Organization:acme") {
		t.Error("a second server on the store does not answer under the live policy")
	}
}

// TestPolicyListing checks GET /admin/v1/policies: source, test count and
// status of each version, the status and time filters, pages, and bad
// queries.
func TestPolicyListing(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := range 4 {
		e.uploadPolicy(t, testPolicy+strings.Repeat("\n", i+1))
	}
	e.must(t, http.StatusOK, "POST", "/admin/v1/policies/2/activate", nil)
	type page struct {
		Policies      []policyVersionInfo `json:"policies"`
		NextPageToken string              `json:"next_page_token"`
	}
	list := func(query string) page {
		t.Helper()
		var p page
		e.must(t, http.StatusOK, "GET", "/admin/v1/policies"+query, nil).json(t, &p)
		return p
	}
	versions := func(p page) []int64 {
		out := []int64{}
		for _, v := range p.Policies {
			out = append(out, v.Version)
		}
		return out
	}
	all := list("")
	if diff := cmp.Diff([]int64{4, 3, 2, 1}, versions(all)); diff != "" || all.NextPageToken != "" {
		t.Fatalf("all versions (-want +got):\n%s\nnext %q", diff, all.NextPageToken)
	}
	var statuses []string
	for _, p := range all.Policies {
		statuses = append(statuses, p.Status)
		if p.Source != "upload" || p.TestCount != 1 || p.Commit != "" || p.CreatedBy != callerDev {
			t.Errorf("listed version %+v: want an upload by %s with 1 test", p, callerDev)
		}
	}
	if diff := cmp.Diff([]string{"rolled_back", "rolled_back", "live", "previous"}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	for query, want := range map[string][]int64{
		"?status=live":        {2},
		"?status=rolled_back": {4, 3},
		"?status=previous":    {1},
		"?since=" + all.Policies[0].CreatedAt + "&until=2000-01-01T00:00:00Z": {},
		"?until=2000-01-01T00:00:00Z":                                         {},
		"?since=2000-01-01T00:00:00Z":                                         {4, 3, 2, 1},
	} {
		if diff := cmp.Diff(want, versions(list(query))); diff != "" {
			t.Errorf("GET /admin/v1/policies%s (-want +got):\n%s", query, diff)
		}
	}
	p1 := list("?limit=3")
	p2 := list("?limit=3&page_token=" + p1.NextPageToken)
	if diff := cmp.Diff([][]int64{{4, 3, 2}, {1}}, [][]int64{versions(p1), versions(p2)}); diff != "" || p1.NextPageToken == "" || p2.NextPageToken != "" {
		t.Errorf("pages (-want +got):\n%s\ntokens %q %q", diff, p1.NextPageToken, p2.NextPageToken)
	}
	if p := list("?limit=2&status=rolled_back"); p.NextPageToken != "" || len(p.Policies) != 2 {
		t.Errorf("an exact last page: %+v", p)
	}
	for query, want := range map[string]string{
		"?status=old":      "status: \"old\" is not a policy status",
		"?since=yesterday": "since: \"yesterday\" is not an RFC 3339 time",
		"?limit=0":         "limit: \"0\" is not an integer from 1 to 1000",
		"?limit=1001":      "limit",
		"?page_token=abc":  "page_token",
		"?page_token=-3":   "page_token",
	} {
		r := e.must(t, http.StatusBadRequest, "GET", "/admin/v1/policies"+query, nil)
		if msg := r.envelope(t).Message; !strings.Contains(msg, want) {
			t.Errorf("GET /admin/v1/policies%s: %q, want %q", query, msg, want)
		}
	}
	var v policyVersion
	e.must(t, http.StatusOK, "GET", "/admin/v1/policies/3", nil).json(t, &v)
	if v.Source != "upload" || v.TestCount != 1 || v.Status != "rolled_back" {
		t.Errorf("version 3 = %+v", v)
	}
}
