package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// serveOnce runs `castellan serve args...` on a free port, calls fn with
// it, and shuts it down gracefully.
func serveOnce(t *testing.T, fn func(rs *runningServer), args ...string) {
	t.Helper()
	rs := startServe(t, nil, args...)
	fn(rs)
	if err := rs.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, rs.log)
	}
}

// TestServeDecisionLog serves with a signed decision log across a
// graceful restart, verifies it, then finds a deleted record.
func TestServeDecisionLog(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "decisions.log")
	keyFile := filepath.Join(dir, "audit.key")
	pubFile := filepath.Join(dir, "audit.pub")
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(priv.Seed())), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, []byte(base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))), 0o600); err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(dir, "p.polar")
	if err := os.WriteFile(policyFile, []byte(servePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--policy", policyFile, "--audit-log", logFile, "--audit-signing-key", keyFile, "--audit-context-facts", "none"}
	for _, n := range []int{5, 3} { // a graceful restart between the two
		serveOnce(t, func(rs *runningServer) {
			for range n {
				if !rs.allowed(t, "a", "read", "d") {
					t.Fatal("not allowed")
				}
			}
		}, args...)
	}
	code, out, errOut := runCLI(t, nil, "audit", "verify", "--public-key", pubFile, logFile)
	if code != 0 || !strings.Contains(out, "ok: 10 records (8 decisions, 2 checkpoints)") || !strings.Contains(out, "closed") {
		t.Fatalf("audit verify: %d %q %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "context_facts") {
		t.Error("--audit-context-facts none: the context facts were recorded")
	}

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(logFile, []byte(strings.Join(append(lines[:2:2], lines[3:]...), "")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "audit", "verify", "--public-key", pubFile, logFile)
	if code != 1 || !strings.Contains(errOut, "decisions.log:3: deleted: record 3 is missing") {
		t.Errorf("audit verify of a log missing a record: %d %q", code, errOut)
	}
}

func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{{"audit"}, {"audit", "verify"}, {"serve", "--audit-when-full", "maybe"}, {"serve", "--audit-signing-key", "k"}, {"serve", "--audit-postgres"}, {"serve", "--audit-replica", "r"}, {"audit", "tail", "-n", "0"}} {
		if code, _, _ := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestServeDecisionLogPostgres serves with the decisions table as the
// decision log, then tails and searches it through the CLI.
func TestServeDecisionLogPostgres(t *testing.T) {
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "p.polar")
	if err := os.WriteFile(policyFile, []byte(servePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.NewDatabase(t)
	rs := startServe(t, nil, "--dev", "--policy", policyFile, "--database-url", dbURL,
		"--audit-postgres", "--audit-replica", "r1")
	for range 4 {
		if !rs.allowed(t, "a", "read", "d") {
			t.Fatal("not allowed")
		}
	}
	if rs.allowed(t, "a", "write", "d") {
		t.Fatal("allowed")
	}
	// The records are written asynchronously: poll until all five are.
	var out, errOut string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var code int
		code, out, errOut = runCLI(t, nil, "audit", "tail", "-n", "3", "--url", rs.url)
		if code != 0 {
			t.Fatalf("audit tail: %d %q", code, errOut)
		}
		if strings.Contains(out, "denied") || time.Now().After(deadline) {
			break
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "write") || !strings.Contains(lines[2], "denied") || !strings.HasSuffix(lines[2], "r1") {
		t.Fatalf("audit tail -n 3, oldest first, the denied write last: %q", out)
	}
	code, out, errOut := runCLI(t, nil, "audit", "search", "--url", rs.url, "--action", "read", "--since", "1h", "--limit", "3")
	if code != 0 || strings.Count(out, "allowed") != 3 || !strings.Contains(errOut, "more: --page-token ") {
		t.Fatalf("audit search: %d %q %q", code, out, errOut)
	}
	token := strings.TrimSpace(strings.TrimPrefix(errOut, "more: --page-token "))
	code, out, errOut = runCLI(t, nil, "audit", "search", "--url", rs.url, "--action", "read", "--page-token", token, "--json")
	if code != 0 || strings.Count(out, `"allowed": true`) != 1 || strings.Contains(out, "next_page_token\": \"x") {
		t.Fatalf("audit search, second page: %d %q %q", code, out, errOut)
	}
	if code, _, _ := runCLI(t, nil, "audit", "search", "--url", rs.url, "--since", "yesterday"); code != 2 {
		t.Errorf("--since yesterday: exit %d, want 2", code)
	}
	if err := rs.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, rs.log)
	}

	// The chain verifies straight from the table; an edited record is
	// found at its place in the chain.
	code, out, errOut = runCLI(t, nil, "audit", "verify", "--database-url", dbURL)
	if code != 0 || !strings.Contains(out, "replica r1: ok: 5 records (5 decisions") {
		t.Fatalf("audit verify --database-url: %d %q %q", code, out, errOut)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `UPDATE decisions SET line = replace(line, '"read"', '"write"') WHERE replica = 'r1' AND seq = 2`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, nil, "audit", "verify", "--database-url", dbURL, "--replica", "r1")
	if code != 1 || !strings.Contains(errOut, "replica r1: record 2: edited: the record's SHA-256 is not the prev of the next record (record 3)") {
		t.Fatalf("audit verify of an edited record: %d %q %q", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, nil, "audit", "verify", "--database-url", dbURL, "--replica", "nobody"); code == 0 || !strings.Contains(errOut, "replica nobody has no records") {
		t.Errorf("audit verify of an unknown replica: %d %q", code, errOut)
	}
}

// TestTailFollower: tail -f prints each record once, oldest first, even
// one that appears after newer ones (another replica's, or buffered
// longer), as long as it is within the slack of the newest printed.
func TestTailFollower(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	rec := func(replica string, seq uint64, sec int) castellan.DecisionRecord {
		return castellan.DecisionRecord{Replica: replica, Seq: seq, Time: t0.Add(time.Duration(sec) * time.Second)}
	}
	names := func(ds []castellan.DecisionRecord) string {
		var b strings.Builder
		for _, d := range ds {
			fmt.Fprintf(&b, "%s%d ", d.Replica, d.Seq)
		}
		return b.String()
	}
	tf := &tailFollower{slack: 10 * time.Second, seen: map[string]time.Time{}}
	// Pages are newest first.
	if got := names(tf.fresh([]castellan.DecisionRecord{rec("a", 2, 5), rec("a", 1, 1)})); got != "a1 a2 " {
		t.Fatalf("first page: %s", got)
	}
	if want := t0.Add(-5 * time.Second); !tf.since().Equal(want) {
		t.Fatalf("since %v, want %v", tf.since(), want)
	}
	// The next poll returns a2 again, a3, and b1, older than a2 but
	// written after it.
	if got := names(tf.fresh([]castellan.DecisionRecord{rec("a", 3, 9), rec("a", 2, 5), rec("b", 1, 3)})); got != "b1 a3 " {
		t.Fatalf("second poll: %s", got)
	}
	if got := names(tf.fresh([]castellan.DecisionRecord{rec("a", 3, 9), rec("b", 1, 3)})); got != "" {
		t.Fatalf("a poll with nothing new: %q", got)
	}
	// Records older than the slack are forgotten.
	tf.fresh([]castellan.DecisionRecord{rec("a", 4, 30)})
	if len(tf.seen) != 1 {
		t.Errorf("%d records remembered, want 1 (a4)", len(tf.seen))
	}
}
