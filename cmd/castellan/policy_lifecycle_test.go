package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/audit"
)

const (
	cliLive = `actor User {}
resource Doc {
  roles = ["viewer"];
  permissions = ["view", "edit"];
  relations = { parent: Folder };
  "view" if "viewer";
}
resource Folder {}
`
	// cliCandidate lets viewers edit and drops folders.
	cliCandidate = `actor User {}
resource Doc {
  roles = ["viewer", "owner"];
  permissions = ["view", "edit"];
  "view" if "viewer";
  "edit" if "viewer";
}
`
	// cliOther uses none of the stored facts.
	cliOther = `actor User {}
allow(_: User, "view", _: Doc);
`
)

func writeFile(tb testing.TB, dir, name, src string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// writeDecisionLog writes a decision log file with the audit package, as
// castellan serve does.
func writeDecisionLog(tb testing.TB, path string, recs ...audit.Record) {
	tb.Helper()
	sink, err := audit.OpenFile(path, audit.FileOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	rec, err := audit.NewRecorder(sink, audit.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range recs {
		rec.Record(&recs[i])
	}
	if err := rec.Close(); err != nil {
		tb.Fatal(err)
	}
}

// TestPolicyLifecycleCLI drives preview, diff, the data check and shadow
// against a real server.
func TestPolicyLifecycleCLI(t *testing.T) {
	url := startServer(t, nil)
	dir := t.TempDir()
	live, cand, other := writeFile(t, dir, "live.polar", cliLive), writeFile(t, dir, "candidate.polar", cliCandidate), writeFile(t, dir, "other.polar", cliOther)
	log := filepath.Join(dir, "decisions.log")
	alice, d1 := audit.Value{Type: "User", ID: "alice"}, audit.Value{Type: "Doc", ID: "d1"}
	writeDecisionLog(t, log,
		audit.Record{Endpoint: "authorize", Actor: alice, Action: "view", Resource: d1, Allowed: audit.Allowed(true)},
		audit.Record{Endpoint: "authorize", Actor: alice, Action: "edit", Resource: d1, Allowed: audit.Allowed(false)},
		audit.Record{Endpoint: "authorize", Actor: alice, Action: "edit", Resource: d1, Allowed: audit.Allowed(false)},
		audit.Record{Endpoint: "query", Query: "has_role(u, r, d)"},
	)
	env := map[string]string{"CASTELLAN_URL": url}
	runSteps(t, env, []step{
		{args: []string{"policy", live}, stdout: "Policy loaded (version 1)\n"},
		{args: []string{"tell", "has_role", "User:alice", "viewer", "Doc:d1"}, ignoreOut: true},
		{args: []string{"tell", "has_relation", "Doc:d1", "parent", "Folder:f"}, ignoreOut: true},

		// Preview: exit 1 when an answer changes, 0 when none does.
		{args: []string{"policy", "preview", cand, "--log", log}, code: exitFailed, contains: true,
			stdout: "replayed 3 questions of 4 decisions under the live policy (version 1) and the candidate: 1 answer changes\n"},
		{args: []string{"policy", "preview", cand, "--log", log}, code: exitFailed, contains: true,
			stdout: `User{"alice"}  edit    Doc{"d1"}  denied -> allowed  2      candidate.polar:6:3 "edit" if "viewer";  authorize`},
		{args: []string{"policy", "preview", cand, "--log", log}, code: exitFailed, contains: true,
			stdout: "skipped 1 decision of query: queries are not replayed"},
		{args: []string{"policy", "preview", live, "--log", log, "--limit", "2"}, contains: true,
			stdout: "replayed 1 question of 2 decisions under the live policy (version 1) and the candidate: no answer changes\n"},
		{args: []string{"policy", "preview", cand}, code: exitError, stderrHas: "no decision log"},
		{args: []string{"policy", "preview", cand, "--log", filepath.Join(dir, "missing.log")}, code: exitUsage, stderrHas: "missing.log"},
		{args: []string{"policy", "preview", other + "x"}, code: exitUsage},

		// Diff: files, versions, live.
		{args: []string{"policy", "diff", live, live}, stdout: live + " and " + live + " are the same policy\n"},
		{args: []string{"policy", "diff", "1", "live"}, stdout: "1 and live are the same policy\n"},
		{args: []string{"policy", "diff", "1", cand}, code: exitFailed, stdout: `blocks:
  ~ resource Doc
      + role "owner"
      - relation parent: Folder
  - resource Folder
rules:
  has_permission/3
    + has_permission(actor: Actor, "edit", resource: Doc) if has_role(actor, "viewer", resource);  # from "edit" if "viewer";
`},
		{args: []string{"policy", "diff", "7", cand}, code: exitError, stderrHas: "not found"},
		{args: []string{"policy", "diff", live}, code: exitUsage},
		{args: []string{"policy", "diff", live, "nope.polar"}, code: exitUsage, stderrHas: "nope.polar"},

		// The data check: --strict refuses, changing nothing; without it the
		// unusable facts are listed.
		{args: []string{"policy", "--strict", cand}, code: exitFailed, stderrHas: "has_relation/3: 1 facts (e.g. has_relation(Doc{\"d1\"}, \"parent\", Folder{\"f\"})): unknown predicate has_relation/3"},
		{args: []string{"policy", "diff", "1", "live"}, stdout: "1 and live are the same policy\n"},
		{args: []string{"get", "has_relation", "_", "_", "_"}, stdout: `has_relation(Doc{"d1"}, "parent", Folder{"f"})` + "\n"},
		{args: []string{"policy", cand}, stdout: `Policy loaded (version 2)
warning: 1 of 2 stored facts are not usable by this policy:
  has_relation/3: 1 facts (no rule uses has_relation/3)
    has_relation(Doc{"d1"}, "parent", Folder{"f"})
  (castellan policy --strict refuses such a policy)
`},
		{args: []string{"policy", "rollback", "1"}, ignoreOut: true},
	})

	// Shadow on live traffic.
	runSteps(t, env, []step{
		{args: []string{"policy", "shadow", "--status"}, code: exitError, stderrHas: "no shadow run"},
		{args: []string{"policy", "shadow", cand}, code: exitUsage},
		{args: []string{"policy", "shadow", cand, "--for", "10m"}, contains: true, stdout: "shadow run of candidate.polar against live version 1, running until"},
		{args: []string{"authorize", "User:alice", "edit", "Doc:d1"}, code: exitFailed, stdout: "denied\n"},
		{args: []string{"authorize", "User:alice", "view", "Doc:d1"}, stdout: "allowed\n"},
	})
	for {
		code, out, stderr := runCLI(t, env, "policy", "shadow", "--status", "--json")
		var st struct{ Offered, Same, Different uint64 }
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status: %d %s %s", code, out, stderr)
		}
		if st.Same+st.Different == 2 {
			if st.Different != 1 || code != exitFailed {
				t.Fatalf("status %+v, exit %d: want 1 different, exit 1", st, code)
			}
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("the shadow run did not finish: %s", out)
		case <-time.After(5 * time.Millisecond):
		}
	}
	code, out, _ := runCLI(t, env, "policy", "shadow", "--stop")
	if code != exitFailed || !strings.Contains(out, "offered 2, same 1, different 1, dropped 0, errors 0") ||
		!strings.Contains(out, `User{"alice"}  edit    Doc{"d1"}  denied -> allowed  candidate.polar:6:3 "edit" if "viewer";`) {
		t.Errorf("shadow --stop: exit %d\n%s", code, out)
	}
}
