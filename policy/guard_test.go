package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// storeFact stores one fact in st.
func storeFact(tb testing.TB, st store.Store, f term.Fact) {
	tb.Helper()
	if _, err := st.Write(tb.Context(), []store.Op{{Insert: []term.Fact{f}}}); err != nil {
		tb.Fatal(err)
	}
}

func TestLoadGuard(t *testing.T) {
	viewer := term.Fact{Predicate: "has_role", Args: []term.Value{
		{Type: "User", ID: "a"}, {Type: "String", ID: "viewer"}, {Type: "Doc", ID: "d"}}}
	tests := []struct {
		name    string
		src     string
		facts   bool // a has_role fact usable by docs is stored
		opts    []policy.LoadOption
		wantErr string // "" : loaded
		warning string
	}{
		{name: "rule-less, facts stored", src: "actor User {}\n", facts: true,
			wantErr: "the policy has no allow rule: every authorize would be denied; and 1 stored facts (predicates has_role/3) would not be usable"},
		{name: "empty, facts stored", src: "", facts: true, wantErr: "no allow rule"},
		{name: "permissions never granted", src: "actor User {}\nresource Doc { permissions = [\"view\"]; roles = [\"viewer\"]; }\n", facts: true, wantErr: "no allow rule"},
		{name: "rule-less, no facts", src: "actor User {}\n"},
		{name: "rule-less, forced", src: "actor User {}\n", facts: true, opts: []policy.LoadOption{policy.Force()}, warning: "no allow rule"},
		{name: "orphans every fact", src: other, facts: true, wantErr: `1 stored facts (predicates has_role/3) would not be usable by this policy: none of them could ever affect a decision; upload again with "force": true`},
		{name: "orphans, allowed", src: other, facts: true, opts: []policy.LoadOption{policy.AllowOrphans()}, warning: "would not be usable"},
		{name: "rule-less, orphans allowed", src: "actor User {}\n", facts: true, opts: []policy.LoadOption{policy.AllowOrphans()}, wantErr: "no allow rule"},
		{name: "an allow rule of its own", src: `allow(_: User, "view", _: Doc);`, facts: true, opts: []policy.LoadOption{policy.AllowOrphans()}, warning: "would not be usable"},
		{name: "uses the facts", src: docs, facts: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			m := mustManager(t, st, policy.WithFacts(st))
			mustLoad(t, m, docs)
			if tc.facts {
				storeFact(t, st, viewer)
			}
			res, err := m.Load(t.Context(), files(tc.src+"\n# v2\n"), "test", tc.opts...)
			if tc.wantErr != "" {
				if !errors.Is(err, policy.ErrNeedsForce) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load: %v, want ErrNeedsForce with %q", err, tc.wantErr)
				}
				if m.Live().Version() != 1 {
					t.Errorf("live version %d after a refused load, want 1", m.Live().Version())
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !res.Changed || m.Live().Version() != 2 {
				t.Errorf("Load: %+v, live %d; want version 2 live", res, m.Live().Version())
			}
			if (tc.warning == "") != (res.Warning == "") || !strings.Contains(res.Warning, tc.warning) || strings.Contains(res.Warning, "force") {
				t.Errorf("warning %q, want one saying %q (and not how to force)", res.Warning, tc.warning)
			}
		})
	}
}

func TestLoadGuardWithoutFacts(t *testing.T) {
	// A manager not given the facts loads any policy that compiles.
	m := mustManager(t, memory.New())
	mustLoad(t, m, "actor User {}\n")
}
