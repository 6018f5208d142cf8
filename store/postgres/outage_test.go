package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
	"github.com/castellan-authz/castellan/store/storetest"
)

// proxy forwards TCP connections to PostgreSQL and can be cut and restored,
// so a test can take the database away from a store.
type proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	p := &proxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	tb.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// cut closes the listener and every connection: the database is gone.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// restore listens again on the same address.
func (p *proxy) restore(tb testing.TB) {
	tb.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		tb.Fatalf("restoring the proxy: %v", err)
	}
	p.serve(ln)
}

func TestDatabaseOutage(t *testing.T) {
	direct := pgtest.NewDatabase(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	s := open(t, u.String(), postgres.Options{WaitTimeout: 300 * time.Millisecond, PollInterval: 100 * time.Millisecond})
	other := open(t, direct, postgres.Options{})
	ctx := t.Context()

	r1 := write(t, s, store.Op{Insert: []term.Fact{role("alice", "admin", "anvil")}})
	key := store.Key{ID: "k1", Scope: "read", Hash: []byte{1, 2, 3}}
	if err := s.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the follower is connected", s.Writable)

	p.cut()
	_, err = s.Write(ctx, []store.Op{{Insert: []term.Fact{role("bob", "admin", "anvil")}}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Write with the database gone: %v, want ErrUnavailable", err)
	}
	if _, err := s.Head(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Head with the database gone: %v, want ErrUnavailable", err)
	}
	snap, err := s.Snapshot(ctx, store.Consistency{})
	if err != nil {
		t.Fatalf("Snapshot with the database gone: %v", err)
	}
	if snap.Revision() != r1 || len(facts(t, snap)) != 1 {
		t.Errorf("Snapshot with the database gone: revision %d, facts %v", snap.Revision(), facts(t, snap))
	}
	eventually(t, "the follower notices", func() bool { return !s.Writable() })
	if !s.Ready() {
		t.Error("Ready() = false with the database gone, want true: reads are answered from the index")
	}
	// Keys are answered from the store's copy: no round trip, so the
	// outage changes nothing, also for an id that does not exist.
	if got, err := s.KeyByID(ctx, key.ID); err != nil || got.Scope != key.Scope {
		t.Errorf("KeyByID with the database gone = %+v, %v; want the key", got, err)
	}
	if _, err := s.KeyByID(ctx, "made-up"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByID of an unknown id with the database gone: %v, want ErrNotFound", err)
	}
	if err := s.DeleteKey(ctx, key.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("DeleteKey with the database gone: %v, want ErrUnavailable", err)
	}
	if _, err := s.KeyByID(ctx, key.ID); err != nil {
		t.Errorf("KeyByID after a failed DeleteKey: %v, want the key", err)
	}

	// Meanwhile another server writes; s cannot see it yet.
	r2 := write(t, other, store.Op{Insert: []term.Fact{role("carol", "admin", "anvil")}})
	if _, err := s.Snapshot(ctx, store.Consistency{AtLeast: r2}); !errors.Is(err, store.ErrRevisionUnavailable) {
		t.Errorf("Snapshot(AtLeast %d) with the database gone: %v, want ErrRevisionUnavailable", r2, err)
	}

	p.restore(t)
	eventually(t, "the follower reconnects and catches up", func() bool { return s.Writable() && s.IndexRevision() >= r2 })
	var r3 store.Revision
	eventually(t, "writes succeed again", func() bool {
		r3, err = s.Write(ctx, []store.Op{{Insert: []term.Fact{role("dave", "admin", "anvil")}}})
		if err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Write after recovery: %v", err)
		}
		return err == nil
	})
	want := []string{
		`has_role(User{"alice"}, "admin", Repo{"anvil"})`,
		`has_role(User{"carol"}, "admin", Repo{"anvil"})`,
		`has_role(User{"dave"}, "admin", Repo{"anvil"})`,
	}
	got := facts(t, storetest.MustSnapshot(t, s, r3))
	if len(got) != len(want) {
		t.Errorf("after recovery: %v, want %v", got, want)
	}
}

// TestTerminatedConnections kills every backend of the store: the next
// writes fail with ErrUnavailable or succeed on a fresh connection, and the
// store recovers without help.
func TestTerminatedConnections(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := open(t, url, postgres.Options{PollInterval: 100 * time.Millisecond})
	ctx := t.Context()
	write(t, s, store.Op{Insert: []term.Fact{role("alice", "admin", "anvil")}})
	eventually(t, "the follower is connected", s.Writable)

	admin, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var dbname string
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	c.QueryRow(ctx, "SELECT current_database()").Scan(&dbname)
	c.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", dbname); err != nil {
		t.Fatal(err)
	}
	var rev store.Revision
	eventually(t, "a write succeeds", func() bool {
		rev, err = s.Write(ctx, []store.Op{{Insert: []term.Fact{role("bob", "admin", "anvil")}}})
		if err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Write after the backends were terminated: %v, want success or ErrUnavailable", err)
		}
		return err == nil
	})
	if got := facts(t, storetest.MustSnapshot(t, s, rev)); len(got) != 2 {
		t.Errorf("facts after recovery: %v", got)
	}
	eventually(t, "the follower reconnects", s.Writable)
}
