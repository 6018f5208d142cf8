package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// followLag bounds how long a key change takes to reach another store on
// the same database in these tests (notifications, else a poll every
// 100 ms).
const followLag = 3 * time.Second

// TestKeysFollowed runs two stores on one database, as two replicas: a key
// created or deleted through one is seen by the other within the follow
// lag, at once by the one that made the change, and a restarted store
// loads every key.
func TestKeysFollowed(t *testing.T) {
	url := pgtest.NewDatabase(t)
	opts := postgres.Options{PollInterval: 100 * time.Millisecond}
	a, b := open(t, url, opts), open(t, url, opts)
	ctx := t.Context()
	found := func(s *postgres.Store, id string) bool {
		_, err := s.KeyByID(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("KeyByID(%q): %v", id, err)
		}
		return err == nil
	}

	k1 := store.Key{ID: "k1", Name: "svc", Scope: "read", Hash: []byte{1, 2, 3}}
	if err := a.CreateKey(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if !found(a, k1.ID) {
		t.Fatal("a key is not found on the store that created it, right after CreateKey")
	}
	within(t, followLag, "b sees the key created through a", func() bool { return found(b, k1.ID) })
	if got, _ := b.KeyByID(ctx, k1.ID); got.Scope != "read" || string(got.Hash) != "\x01\x02\x03" || got.CreatedAt.IsZero() {
		t.Errorf("b's copy of the key: %+v", got)
	}

	if err := a.DeleteKey(ctx, k1.ID); err != nil {
		t.Fatal(err)
	}
	if found(a, k1.ID) {
		t.Error("a deleted key is still found on the store that deleted it")
	}
	within(t, followLag, "b refuses the key deleted through a", func() bool { return !found(b, k1.ID) })

	// Changes through b reach a, in order: create, delete, create again.
	k2 := store.Key{ID: "k2", Scope: "write", Hash: []byte{4}}
	for _, step := range []func() error{
		func() error { return b.CreateKey(ctx, k2) },
		func() error { return b.DeleteKey(ctx, k2.ID) },
		func() error { return b.CreateKey(ctx, k2) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	within(t, followLag, "a sees k2, re-created through b", func() bool { return found(a, k2.ID) })
	if n, err := a.CountKeys(ctx); err != nil || n != 1 {
		t.Errorf("a.CountKeys = %d, %v; want 1", n, err)
	}

	c := open(t, url, opts)
	if !found(c, k2.ID) || found(c, k1.ID) {
		t.Error("a store opened on the database does not hold exactly its keys")
	}
	if list, err := c.ListKeys(ctx); err != nil || len(list) != 1 || list[0].ID != k2.ID {
		t.Errorf("ListKeys on a newly opened store = %v, %v", list, err)
	}
}
