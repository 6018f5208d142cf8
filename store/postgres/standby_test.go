package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// TestReadURLFollowsAStandby runs a replica whose index is loaded from and
// follows a hot standby (Options.ReadURL) while a writer commits to the
// primary: it sees the writes once the standby replays them, and a read
// that asks for the writer's revision gets it at once (the wait catches up
// from the primary), whatever the standby's lag.
func TestReadURLFollowsAStandby(t *testing.T) {
	t.Parallel()
	primary := pgtest.NewCluster(t)
	writer := open(t, primary.URL(), postgres.Options{Migrate: true})
	before := write(t, writer, store.Op{Insert: []term.Fact{role("alice", "viewer", "anvil")}})
	standby := primary.NewStandby(t)

	// A long PollInterval: were the follower listening on the primary it
	// would still see notifications, so also check where it is connected.
	replica := open(t, primary.URL(), postgres.Options{
		ReadURL: standby.URL(), PollInterval: time.Hour, StandbyPollInterval: 20 * time.Millisecond,
	})
	eventually(t, "the replica to load alice's fact from the standby", func() bool {
		return replica.IndexRevision() >= before
	})
	rev := write(t, writer, store.Op{Insert: []term.Fact{role("bob", "viewer", "anvil")}})
	eventually(t, "the replica to follow bob's fact from the standby", func() bool {
		return replica.IndexRevision() >= rev
	})
	snap, err := replica.Snapshot(t.Context(), store.Consistency{})
	if err != nil {
		t.Fatal(err)
	}
	if got := facts(t, snap); len(got) != 2 {
		t.Fatalf("facts = %v, want alice's and bob's", got)
	}

	var followers int
	err = withConn(t, standby.URL(), func(c *pgx.Conn) error {
		return c.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&followers)
	})
	if err != nil {
		t.Fatal(err)
	}
	if followers == 0 {
		t.Errorf("no connection of the replica on the standby: the follower does not read from it")
	}

	// A write through the replica goes to the primary and is read back at once.
	own := write(t, replica, store.Op{Insert: []term.Fact{role("carol", "viewer", "anvil")}})
	if snap, err := replica.Snapshot(t.Context(), store.Consistency{AtLeast: own}); err != nil || snap.Revision() < own {
		t.Fatalf("Snapshot(AtLeast %d) after its own write: %v", own, err)
	}
	// Another store's write, asked for by revision: answered within the wait.
	other := write(t, writer, store.Op{Insert: []term.Fact{role("dave", "viewer", "anvil")}})
	if snap, err := replica.Snapshot(t.Context(), store.Consistency{AtLeast: other}); err != nil || snap.Revision() < other {
		t.Fatalf("Snapshot(AtLeast %d) of the writer's revision: %v", other, err)
	}
}

func withConn(t *testing.T, url string, fn func(*pgx.Conn) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return fn(c)
}

// TestPruneAndReload prunes the change log (Prune with no retention
// removes every committed revision): Changes since a pruned revision
// fails with ErrPruned, later writes are logged as usual, and a replica
// that was cut off (its standby stopped) while the log it missed was
// pruned reloads its index from the facts when it reconnects, then
// follows again.
func TestPruneAndReload(t *testing.T) {
	t.Parallel()
	primary := pgtest.NewCluster(t)
	writer := open(t, primary.URL(), postgres.Options{Migrate: true})
	write(t, writer, store.Op{Insert: []term.Fact{role("alice", "viewer", "anvil")}})
	standby := primary.NewStandby(t)
	replica := open(t, primary.URL(), postgres.Options{ReadURL: standby.URL(), StandbyPollInterval: 20 * time.Millisecond})
	rev := write(t, writer, store.Op{Insert: []term.Fact{role("bob", "viewer", "anvil")}})
	eventually(t, "the replica to follow bob's fact", func() bool { return replica.IndexRevision() >= rev })

	standby.Kill(t)
	rev = write(t, writer, store.Op{Insert: []term.Fact{role("carol", "viewer", "anvil")}},
		store.Op{Delete: []term.Pattern{{Predicate: "has_role", Args: role("alice", "viewer", "anvil").Args}}})
	n, err := writer.Prune(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(rev) {
		t.Errorf("Prune removed %d revisions, want all %d", n, rev)
	}
	if _, err := writer.Changes(t.Context(), 0, 0); !errors.Is(err, store.ErrPruned) {
		t.Errorf("Changes(0) after pruning = %v, want ErrPruned", err)
	}
	if got, err := writer.Changes(t.Context(), rev, 0); err != nil || len(got) != 0 {
		t.Errorf("Changes(head) after pruning = %v, %v; want none", got, err)
	}

	standby.Start(t)
	eventually(t, "the replica to reload its index", func() bool { return replica.IndexRevision() >= rev })
	snap, err := replica.Snapshot(t.Context(), store.Consistency{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`has_role(User{"bob"}, "viewer", Repo{"anvil"})`, `has_role(User{"carol"}, "viewer", Repo{"anvil"})`}
	if diff := cmp.Diff(want, facts(t, snap)); diff != "" {
		t.Fatalf("replica facts after the reload (-want +got):\n%s", diff)
	}

	// It follows again, from the log kept after the prune.
	last := write(t, writer, store.Op{Insert: []term.Fact{role("dave", "viewer", "anvil")}})
	eventually(t, "the replica to follow dave's fact", func() bool { return replica.IndexRevision() >= last })
	got, err := writer.Changes(t.Context(), rev, 0)
	if err != nil || len(got) != 1 || got[0].Revision != last {
		t.Fatalf("Changes(%d) = %v, %v; want dave's insert at %d", rev, got, err, last)
	}
}
