package castellan_test

import (
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store/memory"
)

// TestWindowsAgainstServer grants read until Friday through the client
// and checks it against a server whose clock the test moves.
func TestWindowsAgainstServer(t *testing.T) {
	ctx := t.Context()
	thursday := time.Date(2027, 1, 7, 12, 0, 0, 0, time.UTC)
	friday := time.Date(2027, 1, 8, 17, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(thursday.UnixNano())
	cfg := server.DefaultConfig()
	cfg.Dev = true
	srv, err := server.New(ctx, cfg, memory.New(), server.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c := castellan.New(ts.URL, "")
	if _, err := c.UploadPolicy(ctx, mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	alice, anvil := castellan.Entity("User", "alice"), castellan.Entity("Repository", "anvil")
	grant := castellan.NewFact("has_role", alice, castellan.String("reader"), anvil).Until(friday)
	if err := c.Insert(ctx, grant); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, castellan.NewFact("has_role", alice, castellan.AnyOf(""), castellan.AnyOf("")))
	if err != nil || len(got) != 1 || !got[0].ValidUntil.Equal(friday) || !got[0].ValidFrom.IsZero() {
		t.Fatalf("Get = %v, %v; want the grant with valid_until %s", got, err, friday)
	}
	if d, err := c.Authorize(ctx, alice, "read", anvil); err != nil || !d.Allowed {
		t.Fatalf("Thursday: Authorize = %v, %v; want allowed", d, err)
	}
	now.Store(friday.UnixNano())
	if d, err := c.Authorize(ctx, alice, "read", anvil); err != nil || d.Allowed {
		t.Fatalf("Friday 17:00: Authorize = %v, %v; want denied", d, err)
	}
	bad := castellan.NewFact("has_role", alice, castellan.String("reader"), anvil).From(friday).Until(thursday)
	if err := c.Insert(ctx, bad); err == nil {
		t.Fatal("a window that ends before it starts was accepted")
	}
}
