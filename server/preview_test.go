package server

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/pgtest"
)

const previewLive = `actor User {}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["view", "edit"];
  "view" if "viewer";
  "edit" if "editor";
}
has_permission(_: User, "view", doc: Doc) if is_public(doc);
`

// previewCandidate drops public documents and lets viewers edit.
const previewCandidate = `actor User {}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["view", "edit"];
  "view" if "viewer";
  "edit" if "editor";
  "edit" if "viewer";
}
`

// newLogEnv starts a server (dev mode) on st whose decision log goes to
// sink and is searched through search.
func newLogEnv(t *testing.T, st store.Backend, sink audit.Sink, search audit.Searcher) *testEnv {
	t.Helper()
	rec, err := audit.NewRecorder(sink, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Dev = true
	srv, err := New(t.Context(), cfg, st, WithDecisionLog(rec, DecisionLog{Search: search}))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validateResponses(t, srv))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { rec.Close() })
	return &testEnv{srv: srv, ts: ts, store: st}
}

// newFileLogEnv is newLogEnv on the memory store with a file log.
func newFileLogEnv(t *testing.T) *testEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "decisions.log")
	sink, err := audit.OpenFile(path, audit.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return newLogEnv(t, memory.New(), sink, audit.FileLog(path))
}

// waitLogged returns once the decision log can be searched for n records.
func (e *testEnv) waitLogged(t *testing.T, n int) {
	t.Helper()
	for {
		var page struct {
			Decisions []any `json:"decisions"`
		}
		e.must(t, http.StatusOK, "GET", "/admin/v1/decisions?limit=1000", nil).json(t, &page)
		if len(page.Decisions) >= n {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("the decision log holds %d records, want %d", len(page.Decisions), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestPolicyPreview(t *testing.T) { testPolicyPreview(t, newFileLogEnv(t)) }

// TestPostgresPolicyPreview replays the decisions table of PostgreSQL.
func TestPostgresPolicyPreview(t *testing.T) {
	st := openPostgres(t, pgtest.NewDatabase(t))
	sink, err := st.DecisionSink("a")
	if err != nil {
		t.Fatal(err)
	}
	testPolicyPreview(t, newLogEnv(t, st, sink, st))
}

func testPolicyPreview(t *testing.T, e *testEnv) {
	e.uploadPolicy(t, previewLive)
	e.insert(t, fact("has_role", "User:alice", "viewer", "Doc:d1"), fact("has_role", "User:bob", "editor", "Doc:d1"))
	public := fact("is_public", "Doc:pub")
	e.authorize(t, "User:alice", "view", "Doc:d1")
	e.authorize(t, "User:alice", "edit", "Doc:d1")
	e.authorize(t, "User:carol", "view", "Doc:pub", public)
	e.authorize(t, "User:bob", "edit", "Doc:d1")
	e.must(t, http.StatusOK, "POST", "/api/evaluate_query", map[string]any{"predicate": []any{"allow", []string{"a", "b", "c"}}, "calls": []any{},
		"constraints": map[string]any{"a": map[string]any{"type": "User", "ids": []string{"alice"}}, "b": map[string]any{"type": "String", "ids": []string{"view"}}, "c": map[string]any{"type": "Doc"}}})
	e.waitLogged(t, 5)

	var got previewResponse
	e.must(t, http.StatusOK, "POST", "/api/policy/preview", map[string]any{"filename": "candidate.polar", "src": previewCandidate}).json(t, &got)
	for i := range got.Changes {
		got.Changes[i].Time = ""
	}
	want := previewResponse{LiveVersion: 1, Decisions: 5, Replayed: 4, Changed: 2,
		Changes: []previewChange{
			{Endpoint: "authorize", Actor: outValue{"User", "carol"}, Action: "view", Resource: outValue{"Doc", "pub"}, Before: "allowed", After: "denied",
				Rule: &ruleOut{Text: `has_permission(_: User, "view", doc: Doc) if is_public(doc);`, Position: "policy.polar:8:1"}, Count: 1},
			{Endpoint: "authorize", Actor: outValue{"User", "alice"}, Action: "edit", Resource: outValue{"Doc", "d1"}, Before: "denied", After: "allowed",
				Rule: &ruleOut{Text: `"edit" if "viewer";`, Position: "candidate.polar:7:3"}, Count: 1},
		},
		Skipped: []previewSkip{{Endpoint: "evaluate_query", Count: 1, Reason: "queries are not replayed: the log keeps the query only in its printed form"}},
		Notes:   []string{},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("preview (-want +got):\n%s", d)
	}

	// Nothing went live.
	if v := e.liveVersion(); v != 1 {
		t.Errorf("live version %d after a preview, want 1", v)
	}
	// The live policy itself changes nothing.
	e.must(t, http.StatusOK, "POST", "/api/policy/preview", map[string]any{"src": previewLive, "limit": 3}).json(t, &got)
	if got.Changed != 0 || got.Decisions != 3 {
		t.Errorf("preview of the live policy: %+v, want 3 decisions, nothing changed", got)
	}
	// Records sent are replayed instead of the log.
	sent := `{"seq":1,"prev":"x","kind":"decision","time":"2026-12-05T10:00:00Z","endpoint":"authorize","actor":{"type":"User","id":"alice"},"action":"edit","resource":{"type":"Doc","id":"d1"},"allowed":false,"policy_version":1,"revision":1,"latency_ns":1}`
	e.must(t, http.StatusOK, "POST", "/api/policy/preview", `{"src": `+quoteJSON(previewCandidate)+`, "decisions": [`+sent+`]}`).json(t, &got)
	if got.Changed != 1 || got.Decisions != 1 || got.Changes[0].After != "allowed" {
		t.Errorf("preview of sent records: %+v", got)
	}
	// With a limit, the first records sent.
	e.must(t, http.StatusOK, "POST", "/api/policy/preview", `{"src": `+quoteJSON(previewCandidate)+`, "limit": 1, "decisions": [{"kind":"decision","endpoint":"query","query":"q"}, `+sent+`]}`).json(t, &got)
	if got.Changed != 0 || got.Decisions != 1 || len(got.Skipped) != 1 {
		t.Errorf("preview of the first sent record: %+v", got)
	}
	// Bad input.
	for _, tc := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"src": "actor User {"}`, http.StatusUnprocessableEntity, "policy.polar:1:"},
		{`{"src": "", "limit": -1}`, http.StatusBadRequest, "limit: -1"},
		{`{"src": "", "decisions": [1]}`, http.StatusBadRequest, "decisions[0]"},
		{`{"src": "", "decisions": [{"kind": "checkpoint2"}]}`, http.StatusBadRequest, "decisions[0]: kind"},
		{`{"limit": 3}`, http.StatusBadRequest, "src is required"},
	} {
		r := e.must(t, tc.status, "POST", "/api/policy/preview", tc.body)
		if env := r.envelope(t); !strings.Contains(env.Message, tc.msg) {
			t.Errorf("%s: message %q, want %q", tc.body, env.Message, tc.msg)
		}
	}
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestPolicyPreviewNeedsALog(t *testing.T) {
	e := newAdminEnv(t, nil)
	r := e.must(t, http.StatusBadRequest, "POST", "/api/policy/preview", map[string]any{"src": previewCandidate})
	if msg := r.envelope(t).Message; !strings.Contains(msg, "no decision log") {
		t.Errorf("message %q", msg)
	}
	// Admin scope only.
	e.key = ""
	e.must(t, http.StatusUnauthorized, "POST", "/api/policy/preview", map[string]any{"src": previewCandidate})
}

// TestPolicyShadow runs a candidate in shadow on a real server: answers
// stay those of the live policy; the differences are counted, listed,
// logged and exported.
func TestPolicyShadow(t *testing.T) {
	e := newAdminEnv(t, nil)
	e.must(t, http.StatusNotFound, "GET", "/admin/v1/policy/shadow", nil)
	e.uploadPolicy(t, previewLive)
	e.insert(t, fact("has_role", "User:alice", "viewer", "Doc:d1"))
	for _, body := range []string{`{"src": "x", "duration": "10m"}`, `{"src": "actor User {}", "duration": "0s"}`, `{"src": "actor User {}", "duration": "ten"}`, `{"src": "actor User {}"}`} {
		e.do(t, "POST", "/admin/v1/policy/shadow", body)
		if r := e.do(t, "POST", "/admin/v1/policy/shadow", body); r.status < 400 || r.status >= 500 {
			t.Errorf("start %s: %d, want 4xx", body, r.status)
		}
	}
	var st shadowStatusOut
	e.must(t, http.StatusOK, "POST", "/admin/v1/policy/shadow", map[string]any{"filename": "candidate.polar", "src": previewCandidate, "duration": "10m"}).json(t, &st)
	if !st.Active || st.LiveVersion != 1 || !cmp.Equal(st.CandidateFiles, []string{"candidate.polar"}) {
		t.Fatalf("started: %+v", st)
	}
	// Live answers: alice views d1 and may not edit it; carol views a
	// public document. The candidate lets alice edit and carol not view.
	answers := []bool{
		e.authorize(t, "User:alice", "view", "Doc:d1"),
		e.authorize(t, "User:alice", "edit", "Doc:d1"),
		e.authorize(t, "User:carol", "view", "Doc:pub", fact("is_public", "Doc:pub")),
		e.authorize(t, "User:alice", "view", "Doc:d1"),
	}
	if !cmp.Equal(answers, []bool{true, false, true, true}) {
		t.Errorf("answers under shadow %v: want the live policy's", answers)
	}
	e.must(t, http.StatusOK, "POST", "/access/v1/evaluation", map[string]any{
		"subject": map[string]any{"type": "User", "id": "alice"}, "action": map[string]any{"name": "edit"}, "resource": map[string]any{"type": "Doc", "id": "d1"}})
	// A batch: each resource is a decision (d1 differs, d2 does not).
	e.must(t, http.StatusOK, "POST", "/api/authorize_resources", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "edit",
		"resources": []any{map[string]any{"type": "Doc", "id": "d1"}, map[string]any{"type": "Doc", "id": "d2"}}})
	for {
		e.must(t, http.StatusOK, "GET", "/admin/v1/policy/shadow", nil).json(t, &st)
		if st.Same+st.Different+st.Dropped+st.Errors >= st.Offered && st.Offered == 7 {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("the shadow run did not finish: %+v", st)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if st.Same != 3 || st.Different != 4 || st.Dropped != 0 || st.Errors != 0 || len(st.Recent) != 4 {
		t.Fatalf("counts %+v: want 3 same, 4 different", st)
	}
	d := st.Recent[0]
	if d.Actor != (outValue{"User", "alice"}) || d.Action != "edit" || d.Live != "denied" || d.Shadow != "allowed" || d.Rule == nil || d.Rule.Position != "candidate.polar:7:3" {
		t.Errorf("first difference %+v", d)
	}
	if st.Recent[2].Endpoint != "authzen.evaluation" || st.Recent[3].Endpoint != "authorize_resources" || st.Recent[3].Resource != (outValue{"Doc", "d1"}) {
		t.Errorf("last differences %+v, want the AuthZEN evaluation and d1 of the batch", st.Recent[2:])
	}
	metrics := string(e.must(t, http.StatusOK, "GET", "/metrics", nil).body)
	for _, line := range []string{`castellan_shadow_decisions_total{result="different"} 4`, `castellan_shadow_decisions_total{result="same"} 3`} {
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
	e.must(t, http.StatusOK, "DELETE", "/admin/v1/policy/shadow", nil).json(t, &st)
	if st.Active || st.Stopped == "" || st.Different != 4 {
		t.Errorf("stopped: %+v", st)
	}
	e.must(t, http.StatusNotFound, "GET", "/admin/v1/policy/shadow", nil)
	e.must(t, http.StatusNotFound, "DELETE", "/admin/v1/policy/shadow", nil)
	if v := e.liveVersion(); v != 1 {
		t.Errorf("live version %d after a shadow run, want 1", v)
	}
}

func TestUploadDataCheck(t *testing.T) { testUploadDataCheck(t, newAdminEnv(t, nil)) }

// TestPostgresUploadDataCheck: a strict upload refused on PostgreSQL
// leaves the live policy and the facts as they were.
func TestPostgresUploadDataCheck(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = testAdminKey
	e := newTestEnvOn(t, cfg, openPostgres(t, pgtest.NewDatabase(t)))
	e.key = testAdminKey
	testUploadDataCheck(t, e)
}

func testUploadDataCheck(t *testing.T, e *testEnv) {
	e.uploadPolicy(t, previewLive)
	e.insert(t, fact("has_role", "User:alice", "viewer", "Doc:d1"), fact("is_public", "Doc:p1"), fact("is_public", "Doc:p2"))
	before := e.numFacts(t)

	// Strict: refused, nothing changes.
	for _, tc := range []struct {
		path string
		body map[string]any
	}{
		{"/api/policy", map[string]any{"src": previewCandidate, "strict": true}},
		{"/api/policy?strict=true", map[string]any{"src": previewCandidate, "force": true}},
	} {
		r := e.must(t, http.StatusUnprocessableEntity, "POST", tc.path, tc.body)
		var env struct {
			Message string        `json:"message"`
			Code    string        `json:"code"`
			Details []unusableOut `json:"details"`
		}
		r.json(t, &env)
		wantDetails := []unusableOut{{Predicate: "is_public", Arity: 1, Count: 2, Unused: true,
			Message: "unknown predicate is_public/1: the policy neither uses nor declares it", Sample: []string{`is_public(Doc{"p1"})`, `is_public(Doc{"p2"})`}}}
		if env.Code != codeUnusableFacts || !strings.HasPrefix(env.Message, "2 stored facts are not usable by this policy: is_public/1 (2, no rule uses it") || !cmp.Equal(env.Details, wantDetails) {
			t.Errorf("strict upload %s: %+v", tc.path, env)
		}
		if v, n := e.liveVersion(), e.numFacts(t); v != 1 || n != before {
			t.Errorf("after a refused strict upload: version %d, %d facts; want 1, %d", v, n, before)
		}
	}
	e.must(t, http.StatusBadRequest, "POST", "/api/policy?strict=maybe", map[string]any{"src": previewCandidate})

	// Not strict: loaded, reported in the message and, asked, as data_check.
	var out policyLoaded
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"src": previewCandidate, "data_check": true}).json(t, &out)
	if !strings.HasPrefix(out.Message, "Policy loaded (version 2); 2 stored facts are not usable") || out.DataCheck == nil ||
		out.DataCheck.Facts != 3 || out.DataCheck.Unusable != 2 || len(out.DataCheck.Predicates) != 1 {
		t.Errorf("upload: %+v", out)
	}
	// Oso's answer stays {message} unless asked.
	r := e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"src": previewLive})
	var plain map[string]any
	r.json(t, &plain)
	if len(plain) != 1 || plain["message"] != "Policy loaded (version 3)" {
		t.Errorf("plain upload answered %v", plain)
	}
}

// TestUploadDataCheckFirstPolicy: facts told before any policy is live are
// checked when the first policy is uploaded (dev mode, whose guard lets a
// policy orphan facts, still refuses under strict).
func TestUploadDataCheckFirstPolicy(t *testing.T) {
	e := newTestEnv(t, nil)
	e.insert(t, fact("has_role", "User:alice", "viewer", "Doc:d1"), fact("member_of", "User:alice", "Group:g"))
	r := e.must(t, http.StatusUnprocessableEntity, "POST", "/api/policy", map[string]any{"src": previewLive, "strict": true})
	if msg := r.envelope(t).Message; !strings.Contains(msg, "member_of/2 (1, no rule uses it") {
		t.Errorf("strict first upload: %s", msg)
	}
	if v := e.liveVersion(); v != 0 {
		t.Errorf("a refused first policy went live (version %d)", v)
	}
	var out map[string]any
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"src": previewLive}).json(t, &out)
	if msg, _ := out["message"].(string); !strings.Contains(msg, "1 stored facts are not usable by this policy: member_of/2") {
		t.Errorf("first upload: %v", out)
	}
}
