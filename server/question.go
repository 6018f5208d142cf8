package server

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/trace"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/identity"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
)

// question is what every check shares: the live policy it is answered
// under, the evaluator request (snapshot + context facts) and a context
// bounded by the query time limit.
type question struct {
	ctx      context.Context
	cancel   context.CancelFunc
	policy   *policy.Compiled
	req      evaluator.Request
	verified []term.Fact // the request's verified facts, part of req.Context
	httpReq  *http.Request
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
	st := stateFrom(r.Context())
	verified := verifiedFacts(st.caller, st.onBehalfOf)
	if len(verified) > 0 {
		ctxFacts = append(ctxFacts, verified...)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	return &question{
		ctx:      ctx,
		cancel:   cancel,
		policy:   s.policies.Live(),
		req:      evaluator.Request{Source: snap, Context: ctxFacts, Explain: explain},
		verified: verified,
		httpReq:  r,
	}, nil
}

// The predicates of the verified facts: Castellan adds them to each
// request from its credentials; toFact refuses them from callers, as
// context facts and as stored facts.
const (
	predRequestCaller     = "request_caller"
	predRequestOnBehalfOf = "request_on_behalf_of"
	predHasClaim          = "has_claim"
)

// verifiedPredicate reports whether p is the predicate of a verified fact.
func verifiedPredicate(p string) bool {
	return p == predRequestCaller || p == predRequestOnBehalfOf || p == predHasClaim
}

// verifiedFacts are the facts a request's credentials prove:
// request_caller(Caller) when the caller has a verified identity,
// request_on_behalf_of(User) when it acts for a verified user, and
// has_claim(Entity, "claim", value) for each configured claim of either.
func verifiedFacts(c caller, user *identity.Identity) []term.Fact {
	var out []term.Fact
	if !c.Actor.IsZero() {
		out = append(out, term.Fact{Predicate: predRequestCaller, Args: []term.Value{c.Actor}})
		out = appendClaims(out, c.Actor, c.Claims)
	}
	if user != nil {
		u := term.Entity(user.Type, user.ID)
		out = append(out, term.Fact{Predicate: predRequestOnBehalfOf, Args: []term.Value{u}})
		out = appendClaims(out, u, user.Claims)
	}
	return out
}

func appendClaims(out []term.Fact, who term.Value, claims []identity.Claim) []term.Fact {
	for _, c := range claims {
		var v term.Value
		switch x := c.Value.(type) {
		case string:
			v = term.String(x)
		case int64:
			v = term.Integer(x)
		case bool:
			v = term.Bool(x)
		default:
			continue
		}
		out = append(out, term.Fact{Predicate: predHasClaim, Args: []term.Value{who, term.String(c.Name), v}})
	}
	return out
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
	var span trace.Span
	if s.tracer != nil {
		q.ctx, span = childSpan(q.ctx, "evaluate")
	}
	out, err := fn(q)
	if span != nil {
		span.End()
	}
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
