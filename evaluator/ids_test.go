package evaluator

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// TestIDsAcrossSnapshots answers over the snapshots of a memory store
// whose facts churn: rounds alternate between facts that hold the
// policy's constant "viewer" and facts that do not, so that its id (and
// the ids of the other values) may be freed and reused between snapshots,
// while the evaluator keeps the ids of its constants per snapshot
// generation. Old snapshots, still held, keep their answers.
func TestIDsAcrossSnapshots(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	e := New(mustCompile(t, evaltest.FolderPolicy+"allow(actor, action, resource) if has_permission(actor, action, resource);\n"))
	const n = 1500 // more than the index's compaction threshold
	user := func(round, i int) term.Value { return term.Entity("User", fmt.Sprint("u", round, "-", i)) }
	folder := func(round, i int) term.Value { return term.Entity("Folder", fmt.Sprint("f", round, "-", i)) }
	roundFacts := func(round int) []term.Fact {
		var fs []term.Fact
		for i := range n {
			if round%2 == 0 {
				fs = append(fs, term.Fact{Predicate: "has_role", Args: []term.Value{user(round, i), term.String("viewer"), folder(round, i)}})
			} else {
				fs = append(fs, term.Fact{Predicate: "has_relation", Args: []term.Value{folder(round, i), term.String("parent"), folder(round, i+1)}})
			}
		}
		return fs
	}
	allowed := func(snap store.Snapshot, u, f term.Value) bool {
		t.Helper()
		d, err := e.Authorize(ctx, Request{Source: snap}, u, "read", f)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	type held struct {
		snap  store.Snapshot
		round int
	}
	var old []held
	for round := range 8 {
		op := store.Op{Insert: roundFacts(round)}
		if round > 0 {
			for _, f := range roundFacts(round - 1) {
				op.Delete = append(op.Delete, term.Pattern{Predicate: f.Predicate, Args: f.Args})
			}
		}
		if _, err := st.Write(ctx, []store.Op{op}); err != nil {
			t.Fatal(err)
		}
		snap, err := st.Snapshot(ctx, store.Consistency{})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, n / 2, n - 1} {
			if got, want := allowed(snap, user(round, i), folder(round, i)), round%2 == 0; got != want {
				t.Errorf("round %d: user %d reads folder %d: %v, want %v", round, i, i, got, want)
			}
			if round >= 2 && allowed(snap, user(round-2, i), folder(round-2, i)) {
				t.Errorf("round %d: a user of round %d still reads", round, round-2)
			}
		}
		// The snapshot of two rounds ago (held) answers as it did; the
		// older ones are let go, so compaction frees their values.
		for _, h := range old {
			if got, want := allowed(h.snap, user(h.round, 1), folder(h.round, 1)), h.round%2 == 0; got != want {
				t.Errorf("round %d: the snapshot of round %d: user 1 reads folder 1: %v, want %v", round, h.round, got, want)
			}
		}
		old = append(old, held{snap, round})
		if len(old) > 1 {
			old = old[len(old)-1:]
		}
		runtime.GC()
	}
}

// TestIDsConcurrentChurn checks under concurrent writes that readers of
// successive snapshots, sharing the constants' ids of each generation,
// answer right: a stable grant holds, an absent one does not, while a
// writer replaces the other facts (freeing and reusing their ids).
func TestIDsConcurrentChurn(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	e := New(mustCompile(t, evaltest.FolderPolicy+"allow(actor, action, resource) if has_permission(actor, action, resource);\n"))
	alice, root, leaf := term.Entity("User", "alice"), term.Entity("Folder", "root"), term.Entity("Folder", "leaf")
	stable := []term.Fact{
		{Predicate: "has_role", Args: []term.Value{alice, term.String("viewer"), root}},
		{Predicate: "has_relation", Args: []term.Value{leaf, term.String("parent"), root}},
	}
	if _, err := st.Write(ctx, []store.Op{{Insert: stable}}); err != nil {
		t.Fatal(err)
	}
	churn := func(round int) []term.Fact {
		var fs []term.Fact
		for i := range 200 {
			fs = append(fs, term.Fact{Predicate: "has_role", Args: []term.Value{
				term.Entity("User", fmt.Sprint("c", round, "-", i)), term.String("viewer"), term.Entity("Folder", fmt.Sprint("c", round, "-", i))}})
		}
		return fs
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(done)
		for round := range 60 {
			op := store.Op{Insert: churn(round)}
			if round > 0 {
				for _, f := range churn(round - 1) {
					op.Delete = append(op.Delete, term.Pattern{Predicate: f.Predicate, Args: f.Args})
				}
			}
			if _, err := st.Write(ctx, []store.Op{op}); err != nil {
				errs <- err
				return
			}
		}
	}()
	check := func() error {
		snap, err := st.Snapshot(ctx, store.Consistency{})
		if err != nil {
			return err
		}
		req := Request{Source: snap}
		if d, err := e.Authorize(ctx, req, alice, "read", leaf); err != nil || !d.Allowed {
			return fmt.Errorf("alice reads leaf at revision %d: %v, %v", snap.Revision(), d.Allowed, err)
		}
		if d, err := e.Authorize(ctx, req, term.Entity("User", "mallory"), "read", leaf); err != nil || d.Allowed {
			return fmt.Errorf("mallory reads leaf at revision %d: %v, %v", snap.Revision(), d.Allowed, err)
		}
		// The other checks that read the store under one hold of its
		// lock (holdReads), while the writer waits for it.
		mallory := term.Entity("User", "mallory")
		if got, err := e.AuthorizeEach(ctx, req, alice, "read", []term.Value{leaf, root, term.Entity("Folder", "c0-1")}); err != nil || !slices.Equal(got, []bool{true, true, false}) {
			return fmt.Errorf("AuthorizeEach at revision %d: %v, %v", snap.Revision(), got, err)
		}
		res := e.AuthorizeBatch(ctx, req, []Check{{alice, "read", leaf}, {mallory, "read", leaf}, {alice, "read", root}})
		if res[0] != (CheckResult{Allowed: true}) || res[1] != (CheckResult{}) || res[2] != (CheckResult{Allowed: true}) {
			return fmt.Errorf("AuthorizeBatch at revision %d: %v", snap.Revision(), res)
		}
		acts, err := e.ActionsEach(ctx, req, [][2]term.Value{{alice, leaf}, {mallory, leaf}})
		if err != nil || !slices.Contains(acts[0], "read") || len(acts[1]) != 0 {
			return fmt.Errorf("ActionsEach at revision %d: %v, %v", snap.Revision(), acts, err)
		}
		return nil
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := check(); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}
