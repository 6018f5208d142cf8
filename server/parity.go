package server

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"sync"
)

// parityWindow is how many recent /api/authorize decisions the server
// remembers for /api/expect.
const parityWindow = 10_000

// decisionLog remembers the decisions of the last parityWindow authorize
// requests by request id, in a ring: the oldest is forgotten first. It is
// per process: an expectation sent to another replica finds nothing.
//
// Every authorize records its decision here, so the ring is indexed by an
// open-addressing table of its slots keyed by a hash of the id (linear
// probing, deletion by backward shift) rather than a Go map, whose
// insert and delete of a new string key per request cost several times
// more.
type decisionLog struct {
	mu      sync.Mutex
	ids     []string // the ring; "" in a slot never used
	hashes  []uint64 // the hash of each slot's id
	allowed []bool
	local   []bool // the decision was left to the application's database
	next    int
	table   []int32 // slot + 1 of the ids, by hash; 0 is empty
	seed    maphash.Seed
}

func newDecisionLog(n int) *decisionLog {
	size := 1
	for size < 3*n { // load at most 1/3: short probes
		size <<= 1
	}
	return &decisionLog{ids: make([]string, n), hashes: make([]uint64, n), allowed: make([]bool, n), local: make([]bool, n),
		table: make([]int32, size), seed: maphash.MakeSeed()}
}

// record remembers the decision of request id. A request id seen again
// takes the new decision.
func (l *decisionLog) record(id string, allowed bool) { l.put(id, allowed, false) }

// recordLocal remembers that request id (an /api/authorize_query) left
// its decision to the application's database: Castellan answered SQL
// that reads local data and never learns the result.
func (l *decisionLog) recordLocal(id string) { l.put(id, false, true) }

// find returns the table position of id (hash h) and whether it is there;
// when it is not, the position is the empty one where it would go.
func (l *decisionLog) find(id string, h uint64) (int, bool) {
	mask := len(l.table) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := l.table[i]
		if s == 0 {
			return i, false
		}
		if l.hashes[s-1] == h && l.ids[s-1] == id {
			return i, true
		}
	}
}

// remove takes the entry at table position i out, shifting back the
// entries of its probe run that would no longer be found.
func (l *decisionLog) remove(i int) {
	mask := len(l.table) - 1
	for j := (i + 1) & mask; l.table[j] != 0; j = (j + 1) & mask {
		home := int(l.hashes[l.table[j]-1]) & mask
		// j's entry may move to i if i lies on its probe path: between
		// its home and j, cyclically.
		if (j-home)&mask >= (j-i)&mask {
			l.table[i] = l.table[j]
			i = j
		}
	}
	l.table[i] = 0
}

func (l *decisionLog) put(id string, allowed, local bool) {
	if id == "" {
		return
	}
	h := maphash.String(l.seed, id)
	l.mu.Lock()
	defer l.mu.Unlock()
	pos, ok := l.find(id, h)
	var i int
	if ok {
		i = int(l.table[pos]) - 1
	} else {
		i = l.next
		if old := l.ids[i]; old != "" {
			if p, ok := l.find(old, l.hashes[i]); ok {
				l.remove(p)
			}
			pos, _ = l.find(id, h) // the removal may have moved entries
		}
		l.ids[i], l.hashes[i] = id, h
		l.table[pos] = int32(i + 1)
		l.next = (i + 1) % len(l.ids)
	}
	l.allowed[i], l.local[i] = allowed, local
}

// lookup returns the decision of request id, if it is remembered; local
// is true when the decision was left to the application's database.
func (l *decisionLog) lookup(id string) (allowed, local, ok bool) {
	h := maphash.String(l.seed, id)
	l.mu.Lock()
	defer l.mu.Unlock()
	pos, ok := l.find(id, h)
	if !ok {
		return false, false, false
	}
	i := l.table[pos] - 1
	return l.allowed[i], l.local[i], true
}

// Results of an expectation (the result label of
// castellan_parity_expectations_total).
const (
	parityMatch    = "match"
	parityMismatch = "mismatch"
	parityUnknown  = "unknown"
)

type expectRequest struct {
	RequestID *string `json:"request_id"`
	Expected  *bool   `json:"expected"`
}

// expect compares an expected decision with the one remembered for
// request id and returns the result and the message that answers it.
func (s *Server) expect(id string, expected bool) (result, msg string) {
	actual, local, ok := s.decisions.lookup(id)
	switch {
	case ok && local:
		return parityUnknown, fmt.Sprintf("the decision of request %q was left to the application's database (authorize_query answered SQL that reads local data), so Castellan does not know it; expectation counted as unknown", id)
	case !ok:
		return parityUnknown, fmt.Sprintf("unknown request id %q: no recent authorize decision is remembered for it (this server keeps the last %d); expectation counted as unknown", id, parityWindow)
	case actual == expected:
		return parityMatch, fmt.Sprintf("expectation matches the decision of request %q (allowed: %t)", id, actual)
	default:
		return parityMismatch, fmt.Sprintf("expectation does not match the decision of request %q: expected allowed %t, Castellan decided %t", id, expected, actual)
	}
}

// handleExpect is Oso's ParityHandle: the caller reports the decision its
// previous authorization system made for an earlier /api/authorize, and
// the server counts whether it agreed. It stores no facts, but the SDKs
// treat it as a write, so it answers the head revision in OsoOffset.
func (s *Server) handleExpect(w http.ResponseWriter, r *http.Request) {
	var req expectRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.RequestID == nil || *req.RequestID == "" {
		writeError(w, r, badRequest("request_id is required: the X-Request-ID of an earlier /api/authorize"))
		return
	}
	if req.Expected == nil {
		writeError(w, r, badRequest("expected is required: true or false"))
		return
	}
	id, expected := *req.RequestID, *req.Expected
	result, msg := s.expect(id, expected)
	s.metrics.parity.WithLabelValues(result).Inc()
	if result == parityMismatch {
		requestLog(r).Warn().Str("authorize_request_id", id).Bool("expected", expected).Bool("allowed", !expected).Msg("parity mismatch")
	}
	head, err := s.store.Head(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.setOffset(w, head)
	writeJSON(w, http.StatusOK, message{Message: msg})
}
