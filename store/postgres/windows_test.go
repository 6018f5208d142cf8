package postgres_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
	"github.com/castellan-authz/castellan/store/storetest"
)

// windowsOf returns the window of every fact of snap, by fact.
func windowsOf(snap store.Snapshot) map[string]term.Window {
	out := map[string]term.Window{}
	for f := range snap.Facts(term.Pattern{AnyArity: true}) {
		out[f.String()] = f.Valid
	}
	return out
}

// TestWindowsFollowed checks that validity windows reach another store's
// index by every path: loading at start (facts table), following the
// change log (a re-told window is a delete and an insert), COPY for a bulk
// write, and expiry.
func TestWindowsFollowed(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := open(t, url, postgres.Options{})
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	grant := role("alice", "reader", "anvil")
	grant.Valid = term.Window{Until: t0}
	var bulk []term.Fact
	for f := range storetest.GitHubFacts(600) { // over the COPY threshold
		f.Valid = term.Window{From: t0.Add(-time.Hour)}
		bulk = append(bulk, f)
	}
	write(t, a, store.Op{Insert: []term.Fact{grant}}, store.Op{Insert: bulk})

	b := open(t, url, postgres.Options{}) // loads the facts table
	rev, _ := a.Head(t.Context())
	if diff := cmp.Diff(windowsOf(storetest.MustSnapshot(t, a, rev)), windowsOf(storetest.MustSnapshot(t, b, rev))); diff != "" {
		t.Fatalf("loaded windows differ (-writer +loaded):\n%s", diff)
	}

	grant.Valid = term.Window{Until: t0.Add(24 * time.Hour)}
	r2 := write(t, a, store.Op{Insert: []term.Fact{grant}})
	if got := windowsOf(storetest.MustSnapshot(t, b, r2))[grant.String()]; !got.Equal(grant.Valid) {
		t.Errorf("followed window %v, want %v", got, grant.Valid)
	}

	r3, n, err := b.Expire(t.Context(), t0.Add(25*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Expire = %d, %d, %v; want one fact expired", r3, n, err)
	}
	if _, ok := windowsOf(storetest.MustSnapshot(t, a, r3))[grant.String()]; ok {
		t.Errorf("the expired grant is still stored at revision %d", r3)
	}
}
