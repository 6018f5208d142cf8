package server

import (
	"context"
	"net/http"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
)

// question is what every check shares: the live policy it is answered
// under, the evaluator request (snapshot + context facts) and a context
// bounded by the query time limit.
type question struct {
	ctx    context.Context
	cancel context.CancelFunc
	policy *policy.Compiled
	req    evaluator.Request
}

// ask prepares a question: it validates the context facts, takes the live
// policy (once: the whole request is answered under it) and a snapshot at
// least as fresh as the request's OsoOffset.
func (s *Server) ask(r *http.Request, contextFacts []wireFact, explain bool) (*question, error) {
	ctxFacts, err := s.contextFacts(contextFacts, "context_facts")
	if err != nil {
		return nil, err
	}
	snap, err := s.snapshot(r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	return &question{
		ctx:    ctx,
		cancel: cancel,
		policy: s.policies.Live(),
		req:    evaluator.Request{Source: snap, Context: ctxFacts, Explain: explain},
	}, nil
}

// answer is how every question ends: it asks under the request's context
// facts (see ask), runs fn under the question and writes its answer with
// status 200, as JSON (a rawJSON as it is), or the error as the envelope.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, contextFacts []wireFact, explain bool, fn func(q *question) (any, error)) {
	q, err := s.ask(r, contextFacts, explain)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer q.cancel()
	out, err := fn(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if raw, ok := out.(rawJSON); ok {
		writeRaw(w, http.StatusOK, raw)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// contextFacts validates the context facts of a request: at most
// MaxContextFacts, each well-formed. They are never stored.
func (s *Server) contextFacts(ws []wireFact, where string) ([]term.Fact, error) {
	if len(ws) > s.cfg.MaxContextFacts {
		return nil, errorf(http.StatusBadRequest, codeLimitExceeded,
			"%s: %d facts exceed the limit of %d (--max-context-facts)", where, len(ws), s.cfg.MaxContextFacts)
	}
	if len(ws) == 0 {
		return nil, nil
	}
	return toFacts(ws, where)
}

// explainParam reports whether the request asked for ?explain=true.
func explainParam(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false
	}
	v := r.URL.Query().Get("explain")
	return v == "true" || v == "1"
}
