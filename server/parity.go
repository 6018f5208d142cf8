package server

import (
	"fmt"
	"net/http"
	"sync"
)

// parityWindow is how many recent /api/authorize decisions the server
// remembers for /api/expect.
const parityWindow = 10_000

// decisionLog remembers the decisions of the last parityWindow authorize
// requests by request id, in a ring: the oldest is forgotten first. It is
// per process: an expectation sent to another replica finds nothing.
type decisionLog struct {
	mu      sync.Mutex
	ids     []string // the ring; "" in a slot never used
	allowed []bool
	local   []bool // the decision was left to the application's database
	next    int
	index   map[string]int // request id → slot
}

func newDecisionLog(n int) *decisionLog {
	return &decisionLog{ids: make([]string, n), allowed: make([]bool, n), local: make([]bool, n), index: make(map[string]int, n)}
}

// record remembers the decision of request id. A request id seen again
// takes the new decision.
func (l *decisionLog) record(id string, allowed bool) { l.put(id, allowed, false) }

// recordLocal remembers that request id (an /api/authorize_query) left
// its decision to the application's database: Castellan answered SQL
// that reads local data and never learns the result.
func (l *decisionLog) recordLocal(id string) { l.put(id, false, true) }

func (l *decisionLog) put(id string, allowed, local bool) {
	if id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.index[id]
	if !ok {
		i = l.next
		if old := l.ids[i]; old != "" {
			delete(l.index, old)
		}
		l.ids[i] = id
		l.index[id] = i
		l.next = (i + 1) % len(l.ids)
	}
	l.allowed[i], l.local[i] = allowed, local
}

// lookup returns the decision of request id, if it is remembered; local
// is true when the decision was left to the application's database.
func (l *decisionLog) lookup(id string) (allowed, local, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.index[id]
	if !ok {
		return false, false, false
	}
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
