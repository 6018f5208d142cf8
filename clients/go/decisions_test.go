package castellan_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/audit"
	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store/memory"
)

// TestDecisionsAgainstServer searches the real server's file decision log
// through the client, filtered and page by page.
func TestDecisionsAgainstServer(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "decisions.log")
	sink, err := audit.OpenFile(path, audit.FileOptions{MaxSize: 4000})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := audit.NewRecorder(sink, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.Dev = true
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(ctx, cfg, st, server.WithDecisionLog(rec, server.DecisionLog{Search: audit.FileLog(path)}))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); rec.Close() })
	c := castellan.New(ts.URL, "")
	if _, err := c.UploadPolicy(ctx, mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	alice, bob := castellan.Entity("User", "alice"), castellan.Entity("User", "bob")
	start := time.Now()
	const n = 30
	for i := range n {
		actor := alice
		if i%3 == 0 {
			actor = bob
		}
		if _, err := c.Authorize(ctx, actor, "read", castellan.Entity("Repository", "r"+string(rune('a'+i%26)))); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); rec.Written() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d records written, want %d", rec.Written(), n)
		}
	}

	var all []castellan.DecisionRecord
	q := castellan.DecisionQuery{Limit: 7, Since: start.Add(-time.Second)}
	for range n {
		page, err := c.Decisions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Decisions...)
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	if len(all) != n {
		t.Fatalf("%d records, want %d", len(all), n)
	}
	for i, d := range all {
		if i > 0 && d.Seq >= all[i-1].Seq {
			t.Fatalf("record %d (seq %d) is not older than the one before (seq %d)", i, d.Seq, all[i-1].Seq)
		}
		if d.Endpoint != "authorize" || d.Action != "read" || d.Allowed == nil || len(d.Raw) == 0 || !strings.Contains(string(d.Raw), `"prev":`) {
			t.Fatalf("record %d: %+v", i, d)
		}
	}
	page, err := c.Decisions(ctx, castellan.DecisionQuery{Actor: "User:bob", Action: "read", Result: "denied", Resource: "Repository"})
	if err != nil || len(page.Decisions) != n/3 {
		t.Fatalf("bob's denied reads: %d, %v; want %d", len(page.Decisions), err, n/3)
	}
	if page, err := c.Decisions(ctx, castellan.DecisionQuery{Since: time.Now().Add(time.Hour)}); err != nil || len(page.Decisions) != 0 {
		t.Errorf("the future: %d, %v", len(page.Decisions), err)
	}
	for _, bad := range []castellan.DecisionQuery{{Result: "maybe"}, {PageToken: "x"}, {Limit: 5000}} {
		var ae *castellan.Error
		if _, err := c.Decisions(ctx, bad); !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
			t.Errorf("%+v: %v, want a 400", bad, err)
		}
	}

	// Without a decision log: a 400 that says so.
	_, err = newServer(t).Decisions(ctx, castellan.DecisionQuery{})
	var ae *castellan.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.Contains(ae.Message, "no decision log is configured") {
		t.Errorf("no decision log: %v", err)
	}
}
