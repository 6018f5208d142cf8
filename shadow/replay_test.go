package shadow_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/shadow"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

const livePolicy = `actor User {}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["view", "edit"];
  "view" if "viewer";
  "edit" if "editor";
  "view" if "editor";
}
has_permission(_: User, "view", doc: Doc) if is_public(doc);
`

// candidatePolicy drops public documents and lets viewers edit.
const candidatePolicy = `actor User {}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["view", "edit"];
  "view" if "viewer";
  "edit" if "editor";
  "view" if "editor";
  "edit" if "viewer";
}
`

func mustCompile(tb testing.TB, name, src string) *policy.Compiled {
	tb.Helper()
	c, err := policy.Compile(tb.Context(), []policy.File{{Filename: name, Src: src}})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func user(id string) term.Value { return term.Entity("User", id) }
func doc(id string) term.Value  { return term.Entity("Doc", id) }

// facts stores alice as viewer and bob as editor of d1.
func facts(tb testing.TB) store.Snapshot {
	tb.Helper()
	st := memory.New()
	tb.Cleanup(func() { st.Close() })
	_, err := st.Write(tb.Context(), []store.Op{{Insert: []term.Fact{
		{Predicate: "has_role", Args: []term.Value{user("alice"), term.String("viewer"), doc("d1")}},
		{Predicate: "has_role", Args: []term.Value{user("bob"), term.String("editor"), doc("d1")}},
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	snap, err := st.Snapshot(tb.Context(), store.Consistency{})
	if err != nil {
		tb.Fatal(err)
	}
	return snap
}

func av(v term.Value) audit.Value { return audit.Value{Type: v.Type, ID: v.ID} }

// recordLog writes recs to a decision log file with the audit package's
// recorder and returns its path.
func recordLog(tb testing.TB, recs []audit.Record) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "decisions.log")
	sink, err := audit.OpenFile(path, audit.FileOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	rec, err := audit.NewRecorder(sink, audit.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range recs {
		r := recs[i]
		r.Time = t0.Add(time.Duration(i) * time.Second)
		rec.Record(&r)
	}
	if err := rec.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestReplayRecordedLog(t *testing.T) {
	public := `is_public(Doc{"pub"})`
	n := 3
	path := recordLog(t, []audit.Record{
		{Endpoint: "authorize", Actor: av(user("alice")), Action: "view", Resource: av(doc("d1")), Allowed: audit.Allowed(true)},
		{Endpoint: "authorize", Actor: av(user("alice")), Action: "edit", Resource: av(doc("d1")), Allowed: audit.Allowed(false)},
		{Endpoint: "authorize", Actor: av(user("carol")), Action: "view", Resource: av(doc("pub")), Allowed: audit.Allowed(true), ContextFacts: []string{public}},
		{Endpoint: "authzen.evaluation", Actor: av(user("carol")), Action: "view", Resource: av(doc("pub")), Allowed: audit.Allowed(true), ContextFacts: []string{public}, OnBehalfOf: "User:carol"},
		{Endpoint: "authorize", Actor: av(user("carol")), Action: "view", Resource: av(doc("pub")), Allowed: audit.Allowed(true), ContextFacts: []string{public}},
		{Endpoint: "authorize", Actor: av(user("carol")), Action: "view", Resource: av(doc("pub2")), Allowed: audit.Allowed(true), ContextFactsSHA256: audit.HashFacts([]string{`is_public(Doc{"pub2"})`})},
		{Endpoint: "actions", Actor: av(user("alice")), Resource: av(doc("d1")), Count: &n},
		{Endpoint: "list", Actor: av(user("alice")), Action: "view", ResourceType: "Doc", Count: &n},
		{Endpoint: "list", Actor: av(user("bob")), Action: "edit", ResourceType: "Doc", Count: &n},
		{Endpoint: "authorize_resources", Actor: av(user("alice")), Action: "edit", Resources: []audit.Value{av(doc("d1")), av(doc("d2"))}, Count: &n},
		{Endpoint: "evaluate_query", Query: "allow(u, a, d) where u: User{alice}", Count: &n},
		{Endpoint: "query", Query: "has_role(u, r, d)", Count: &n},
		{Endpoint: "authorize", Actor: av(user("dave")), Action: "view", Resource: av(doc("d1")), Error: "work limit exceeded"},
		{Endpoint: "list", Actor: av(user("alice")), Action: "edit", ResourceType: "Doc", Count: &n},
	})
	recs, err := shadow.LastDecisions(t.Context(), audit.FileLog(path), 100, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 14 {
		t.Fatalf("LastDecisions read %d records, want 14", len(recs))
	}
	live := mustCompile(t, "live.polar", livePolicy)
	rep, err := shadow.Replay(t.Context(), shadow.Input{Live: live, Candidate: mustCompile(t, "candidate.polar", candidatePolicy), Facts: facts(t), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	type change struct {
		Endpoint, Actor, Action, Resource string
		Before, After                     bool
		Rule                              string
		Count                             int
		Hashed                            bool
	}
	var got []change
	for _, c := range rep.Changes {
		rule := c.Fact
		if c.Rule != nil {
			rule = c.Rule.Position + " " + c.Rule.Text
		}
		got = append(got, change{c.Endpoint, c.Actor.String(), c.Action, c.Resource.String(), c.Before, c.After, rule, c.Count, c.ContextHashed})
	}
	public9 := "live.polar:9:1 has_permission(_: User, \"view\", doc: Doc) if is_public(doc);"
	viewerEdits := `candidate.polar:8:3 "edit" if "viewer";`
	want := []change{
		{"authorize", `User{"carol"}`, "view", `Doc{"pub"}`, true, false, public9, 2, false},
		{"list", `User{"alice"}`, "edit", `Doc{"d1"}`, false, true, viewerEdits, 1, false},
		{"authorize_resources", `User{"alice"}`, "edit", `Doc{"d1"}`, false, true, viewerEdits, 1, false},
		{"actions", `User{"alice"}`, "edit", `Doc{"d1"}`, false, true, viewerEdits, 1, false},
		{"authzen.evaluation", `User{"carol"}`, "view", `Doc{"pub"}`, true, false, public9, 1, false},
		{"authorize", `User{"alice"}`, "edit", `Doc{"d1"}`, false, true, viewerEdits, 1, false},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	// alice view d1, alice edit d1, carol view pub (twice, asked once),
	// carol view pub via authzen, carol view pub2, actions, three lists, two
	// resources of authorize_resources.
	if rep.Decisions != 14 || rep.Replayed != 12 || rep.ContextHashed != 1 || rep.Errors != 0 || rep.LiveVersion != 0 {
		t.Errorf("report: decisions %d replayed %d hashed %d errors %d; want 14, 12, 1, 0", rep.Decisions, rep.Replayed, rep.ContextHashed, rep.Errors)
	}
	skipped := map[string]int{}
	for _, s := range rep.Skipped {
		skipped[s.Endpoint] += s.Count
		if s.Reason == "" {
			t.Errorf("skip of %s has no reason", s.Endpoint)
		}
	}
	if d := cmp.Diff(map[string]int{"query": 1, "evaluate_query": 1, "authorize": 1}, skipped); d != "" {
		t.Errorf("skipped (-want +got):\n%s", d)
	}
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "hash") {
		t.Errorf("notes %q: want one saying context facts were hashed", rep.Notes)
	}
}

func TestReplayUnchanged(t *testing.T) {
	path := recordLog(t, []audit.Record{
		{Endpoint: "authorize", Actor: av(user("alice")), Action: "view", Resource: av(doc("d1")), Allowed: audit.Allowed(true)},
	})
	recs, err := shadow.LastDecisions(t.Context(), audit.FileLog(path), 0, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	live := mustCompile(t, "live.polar", livePolicy)
	rep, err := shadow.Replay(t.Context(), shadow.Input{Live: live, Candidate: mustCompile(t, "same.polar", livePolicy+"\n# a comment\n"), Facts: facts(t), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() || rep.Replayed != 1 || len(rep.Notes) != 0 {
		t.Errorf("report %+v: want one question replayed, nothing changed, no note", rep)
	}
	rep, err = shadow.Replay(t.Context(), shadow.Input{Live: live, Candidate: live, Facts: facts(t), Records: recs, ContextNotKept: true})
	if err != nil || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "keeps no context facts") {
		t.Errorf("notes %q (%v): want one saying the log keeps no context facts", rep.Notes, err)
	}
}

func TestParseRecordsErrors(t *testing.T) {
	for _, line := range []string{`{`, `{"kind": "weird"}`, `[]`} {
		if _, err := shadow.ParseRecords([][]byte{[]byte(`{"kind":"decision"}`), []byte(line)}); err == nil || !strings.Contains(err.Error(), "decisions[1]") {
			t.Errorf("ParseRecords(%s): %v, want an error naming decisions[1]", line, err)
		}
	}
}

// TestReplayBlamesTheChangedRule: when the rule that changed is deep in
// the derivation (a role implied by another), it is named, not the
// permission rule both policies share.
func TestReplayBlamesTheChangedRule(t *testing.T) {
	const base = `actor User {}
resource Doc {
  roles = ["viewer", "owner"];
  permissions = ["view"];
  "view" if "viewer";
`
	live := mustCompile(t, "live.polar", base+"  \"viewer\" if \"owner\";\n}\n")
	cand := mustCompile(t, "candidate.polar", base+"}\n")
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	if _, err := st.Write(t.Context(), []store.Op{{Insert: []term.Fact{{Predicate: "has_role", Args: []term.Value{user("olga"), term.String("owner"), doc("d1")}}}}}); err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot(t.Context(), store.Consistency{})
	if err != nil {
		t.Fatal(err)
	}
	recs := []audit.Record{{Kind: audit.KindDecision, Endpoint: "authorize", Actor: av(user("olga")), Action: "view", Resource: av(doc("d1")), Allowed: audit.Allowed(true)}}
	rep, err := shadow.Replay(t.Context(), shadow.Input{Live: live, Candidate: cand, Facts: snap, Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Rule == nil || rep.Changes[0].Rule.Text != `"viewer" if "owner";` || rep.Changes[0].Rule.Position != "live.polar:6:3" {
		t.Fatalf("changes %+v: want the removed \"viewer\" if \"owner\" named", rep.Changes)
	}
	// The other way round, the candidate's new rule is named.
	rep, err = shadow.Replay(t.Context(), shadow.Input{Live: cand, Candidate: live, Facts: snap, Records: recs})
	if err != nil || len(rep.Changes) != 1 || rep.Changes[0].Rule == nil || rep.Changes[0].Rule.Position != "live.polar:6:3" {
		t.Fatalf("reverse changes %+v, %v", rep.Changes, err)
	}
}
