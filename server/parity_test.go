package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/store/memory"
)

// parityCounts scrapes castellan_parity_expectations_total by result.
func parityCounts(t *testing.T, e *testEnv) map[string]float64 {
	t.Helper()
	body := string(e.must(t, http.StatusOK, "GET", "/metrics", nil).body)
	out := map[string]float64{}
	for line := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(line, `castellan_parity_expectations_total{result="`)
		if !ok {
			continue
		}
		result, value, _ := strings.Cut(rest, `"} `)
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[result] = v
	}
	return out
}

func TestExpect(t *testing.T) {
	var logs syncBuffer
	cfg := DefaultConfig()
	cfg.Dev = true
	srv, err := New(t.Context(), cfg, memory.New(), WithLogger(zerolog.New(&logs)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &testEnv{srv: srv, ts: ts}
	e.uploadPolicy(t, testPolicy)
	wrote := e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))

	ask := func(id, actor string) {
		t.Helper()
		e.must(t, http.StatusOK, "POST", "/api/authorize", map[string]any{
			"actor_type": "User", "actor_id": actor, "action": "read", "resource_type": "Organization", "resource_id": "acme",
		}, "X-Request-ID", id)
	}
	ask("req-allowed", "alice")
	ask("req-denied", "bob")

	if diff := cmp.Diff(map[string]float64{"match": 0, "mismatch": 0, "unknown": 0}, parityCounts(t, e)); diff != "" {
		t.Errorf("counters before any expectation (-want +got):\n%s", diff)
	}
	tests := []struct {
		id       string
		expected bool
		want     string // in the message
	}{
		{"req-allowed", true, "matches"},
		{"req-denied", false, "matches"},
		{"req-allowed", false, "does not match"},
		{"req-never-seen", true, "unknown request id"},
	}
	for _, tt := range tests {
		r := e.must(t, http.StatusOK, "POST", "/api/expect", map[string]any{"request_id": tt.id, "expected": tt.expected})
		var m message
		r.json(t, &m)
		if !strings.Contains(m.Message, tt.want) {
			t.Errorf("expect %s %t: message %q, want it to say %q", tt.id, tt.expected, m.Message, tt.want)
		}
		if got, want := r.header.Get("OsoOffset"), wrote.header.Get("OsoOffset"); got != want {
			t.Errorf("expect %s: OsoOffset %q, want the head revision %q", tt.id, got, want)
		}
	}
	if diff := cmp.Diff(map[string]float64{"match": 2, "mismatch": 1, "unknown": 1}, parityCounts(t, e)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}

	var mismatches []map[string]any
	for l := range bytes.Lines(logs.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["message"] == "parity mismatch" {
			delete(m, "request_id") // the expect request's own id
			mismatches = append(mismatches, m)
		}
	}
	want := []map[string]any{{"level": "warn", "message": "parity mismatch", "authorize_request_id": "req-allowed", "expected": false, "allowed": true}}
	if diff := cmp.Diff(want, mismatches); diff != "" {
		t.Errorf("mismatch log (-want +got):\n%s", diff)
	}
	if s := logs.String(); strings.Contains(s, "alice") || strings.Contains(s, "acme") {
		t.Errorf("the log contains fact data:\n%s", s)
	}
}

func TestExpectRejects(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name string
		body string
		code string
	}{
		{"no request_id", `{"expected": true}`, codeInvalidRequest},
		{"empty request_id", `{"request_id": "", "expected": true}`, codeInvalidRequest},
		{"no expected", `{"request_id": "r1"}`, codeInvalidRequest},
		{"unknown field", `{"request_id": "r1", "expected": true, "extra": 1}`, codeInvalidJSON},
		{"not JSON", `expected`, codeInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, http.StatusBadRequest, "POST", "/api/expect", tt.body)
			if got := r.envelope(t).Code; got != tt.code {
				t.Errorf("code %q, want %q", got, tt.code)
			}
		})
	}
}

func TestExpectNeedsReadScope(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = "admin-secret-0123456789"
	e := newTestEnv(t, &cfg)
	e.must(t, http.StatusUnauthorized, "POST", "/api/expect", map[string]any{"request_id": "r1", "expected": true})
}

func TestDecisionLogForgetsTheOldest(t *testing.T) {
	l := newDecisionLog(3)
	for i := range 5 {
		l.record("r"+strconv.Itoa(i), i%2 == 0)
	}
	l.record("r4", false) // seen again: the new decision, no new slot
	tests := []struct {
		id          string
		allowed, ok bool
	}{
		{"r0", false, false},
		{"r1", false, false},
		{"r2", true, true},
		{"r3", false, true},
		{"r4", false, true},
	}
	for _, tt := range tests {
		allowed, _, ok := l.lookup(tt.id)
		if allowed != tt.allowed || ok != tt.ok {
			t.Errorf("lookup(%s) = %t, %t; want %t, %t", tt.id, allowed, ok, tt.allowed, tt.ok)
		}
	}
	if n := tableLen(l); n != 3 {
		t.Errorf("index holds %d ids, want 3", n)
	}
}

func tableLen(l *decisionLog) int {
	n := 0
	for _, s := range l.table {
		if s != 0 {
			n++
		}
	}
	return n
}

// TestDecisionLogAgainstAMap checks the ring's hash index against a
// reference kept in a Go map, over many ids in small rings (so that probe
// runs collide, wrap around the table and are shifted back on removal).
func TestDecisionLogAgainstAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 5, 17, 100} {
		l := newDecisionLog(n)
		type entry struct {
			allowed, local bool
			seq            int
		}
		ref := map[string]entry{} // every id recorded, with its slot's age
		var order []string        // ids by first recording, as the ring takes them
		for step := range 5000 {
			id := "r" + strconv.Itoa(rng.IntN(3*n))
			allowed, local := rng.IntN(2) == 0, rng.IntN(5) == 0
			if local {
				l.recordLocal(id)
				allowed = false
			} else {
				l.record(id, allowed)
			}
			e, seen := ref[id]
			live := seen && e.seq >= len(order)-n
			if !live {
				e.seq = len(order)
				order = append(order, id)
			}
			e.allowed, e.local = allowed, local
			ref[id] = e
			for q := range 3 * n {
				qid := "r" + strconv.Itoa(q)
				want, ok := ref[qid]
				wantOK := ok && want.seq >= len(order)-n
				gotAllowed, gotLocal, gotOK := l.lookup(qid)
				if gotOK != wantOK || (wantOK && (gotAllowed != want.allowed || gotLocal != want.local)) {
					t.Fatalf("n=%d step %d: lookup(%s) = %t, %t, %t; want %t, %t, %t", n, step, qid, gotAllowed, gotLocal, gotOK, want.allowed, want.local, wantOK)
				}
			}
			if got, want := tableLen(l), min(len(order), n); got != want {
				t.Fatalf("n=%d step %d: table holds %d ids, want %d", n, step, got, want)
			}
		}
	}
}
