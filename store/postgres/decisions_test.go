package postgres_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// TestDecisionSinkReplicas has two replicas (two stores and recorders on
// one database) write decisions concurrently: each replica's chain
// verifies, no record is lost, a restarted replica continues its chain,
// and a query sees both replicas, newest first, page by page.
func TestDecisionSinkReplicas(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	const perReplica = 3000
	replicas := []string{"replica-a", "replica-b"}
	record := func(st *postgres.Store, replica string, from, n int) {
		sink, err := st.DecisionSink(replica)
		if err != nil {
			t.Error(err)
			return
		}
		rec, err := audit.NewRecorder(sink, audit.Options{Buffer: 64, SigningKey: auditKey(), CheckpointEvery: 500,
			OnError: func(err error) { t.Errorf("%s: %v", replica, err) }})
		if err != nil {
			t.Error(err)
			return
		}
		var wg sync.WaitGroup
		for w := range 4 { // concurrent requests
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + w; i < from+n; i += 4 {
					rec.Record(&audit.Record{RequestID: fmt.Sprintf("%s-%d", replica, i), Endpoint: "authorize", Caller: "k1",
						Actor: audit.Value{Type: "User", ID: fmt.Sprint("u", i%10)}, Action: "read",
						Resource: audit.Value{Type: "Repo", ID: fmt.Sprint(i)}, Allowed: audit.Allowed(i%3 == 0), PolicyVersion: 2})
				}
			}()
		}
		wg.Wait()
		if err := rec.Close(); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for _, r := range replicas {
		st := open(t, url, postgres.Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			record(st, r, 0, perReplica)
			record(st, r, perReplica, 100) // a graceful restart continues the chain
		}()
	}
	wg.Wait()

	st := open(t, url, postgres.Options{})
	got, err := st.DecisionReplicas(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("replicas %v, %v", got, err)
	}
	pub := auditKey().Public().(ed25519.PublicKey)
	for _, r := range replicas {
		var b bytes.Buffer
		if _, err := st.ExportDecisions(ctx, r, &b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), r+".log")
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		sum, err := audit.Verify([]string{path}, audit.VerifyOptions{PublicKey: pub})
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if sum.Decisions != perReplica+100 {
			t.Errorf("%s: %d decisions, want %d", r, sum.Decisions, perReplica+100)
		}
	}

	// Queries: every decision once, newest first, across both replicas.
	seen := map[string]bool{}
	q := audit.Query{Limit: audit.MaxLimit}
	var last string
	for {
		page, err := st.Decisions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Decisions {
			var rec audit.Record
			if err := json.Unmarshal(e.Line, &rec); err != nil {
				t.Fatal(err)
			}
			if seen[rec.RequestID] {
				t.Fatalf("%s twice", rec.RequestID)
			}
			seen[rec.RequestID] = true
			if ts := rec.Time.Format("2006-01-02T15:04:05.000000"); last != "" && ts > last {
				t.Fatalf("%s after a record of %s: not newest first", ts, last)
			} else {
				last = ts
			}
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	if len(seen) != 2*(perReplica+100) {
		t.Errorf("the query saw %d decisions, want %d", len(seen), 2*(perReplica+100))
	}
	for _, tc := range []struct {
		q    audit.Query
		want int
	}{
		{audit.Query{Actor: "User:u3", Resource: "Repo:3"}, 2},
		{audit.Query{Actor: "User:u3", Result: audit.OutcomeAllowed, Limit: audit.MaxLimit}, 208}, // i ≡ 3 (mod 30), on each replica,
		{audit.Query{Resource: "Repo:5", Result: audit.OutcomeAllowed}, 0},
		{audit.Query{Caller: "k2"}, 0},
		{audit.Query{PolicyVersion: 2, Action: "read", Resource: "Repo:7"}, 2},
	} {
		page, err := st.Decisions(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Decisions) != tc.want {
			t.Errorf("%+v: %d decisions, want %d", tc.q, len(page.Decisions), tc.want)
		}
	}
	if _, err := st.Decisions(ctx, audit.Query{PageToken: "!!"}); err == nil {
		t.Error("a bad page token was accepted")
	}

	// A resource filter finds a batch that asked about the resource.
	sink, err := st.DecisionSink("replica-batch")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := audit.NewRecorder(sink, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	two := 2
	rec.Record(&audit.Record{RequestID: "batch", Endpoint: "authorize_resources", Actor: audit.Value{Type: "User", ID: "u1"}, Action: "read",
		Resources: []audit.Value{{Type: "Repo", ID: "batch-a"}, {Type: "Issue", ID: "batch-b"}}, Count: &two})
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		resource string
		want     int
	}{{"Repo:batch-a", 1}, {"Issue:batch-b", 1}, {"Issue", 1}, {"Repo:batch-b", 0}, {"Org", 0}} {
		page, err := st.Decisions(ctx, audit.Query{Resource: tc.resource})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Decisions) != tc.want {
			t.Errorf("resource %s: %d decisions, want %d", tc.resource, len(page.Decisions), tc.want)
		}
	}
}

func auditKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}
