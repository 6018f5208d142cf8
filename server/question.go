package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

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
	deadline deadlineCtx // the query time limit under ctx (allocated with the question)
	policy   *policy.Compiled
	req      evaluator.Request
	verified []term.Fact // the request's verified facts, part of req.Context
	httpReq  *http.Request
}

// questionIn is what a question brings besides its goal, for that request
// only: context facts, checked against the live policy as told facts are,
// and attribute facts (attributes.go), which are left out when the policy
// cannot use them (a caller sends what it knows; what the policy does not
// read is no error).
type questionIn struct {
	facts []wireFact
	where string // names the facts in errors; "context_facts" when empty
	attrs []term.Fact
}

// contextIn is the questionIn of an Oso request: its context_facts and
// its optional attributes.
func contextIn(facts []wireFact, attrs []wireAttributes) (questionIn, error) {
	in := questionIn{facts: facts}
	if len(attrs) > 0 {
		var err error
		if in.attrs, err = attributeFacts(attrs, "attributes"); err != nil {
			return in, err
		}
	}
	return in, nil
}

// ask prepares a question: it takes the live policy (once: the whole
// request is answered under it), checks the context facts against it and
// takes a snapshot at least as fresh as the request's OsoOffset, read At
// the instant the server's clock gives (once: see store.Snapshot.At).
func (s *Server) ask(r *http.Request, in questionIn, explain bool) (*question, error) {
	pol := s.policies.Live()
	ctxFacts, err := s.contextFacts(pol, in)
	if err != nil {
		return nil, err
	}
	// One instant for the whole question: the facts that hold (validity
	// windows) and @current_unix_time.
	now := s.now()
	snap, err := s.storedSnapshot(r)
	if err != nil {
		return nil, err
	}
	st := stateFrom(r.Context())
	verified := verifiedFacts(st.caller, st.onBehalfOf)
	if len(verified) > 0 {
		ctxFacts = append(ctxFacts, verified...)
	}
	q := &question{
		policy:   pol,
		req:      evaluator.Request{Source: snap.At(now), Context: ctxFacts, Explain: explain, Now: now},
		verified: verified,
		httpReq:  r,
	}
	// The query time limit without a timer (see deadlineCtx): a check
	// polls Err and is done long before it.
	q.deadline = deadlineCtx{parent: r.Context(), deadline: time.Now().Add(s.cfg.QueryTimeout)}
	q.ctx = &q.deadline
	return q, nil
}

// cancel ends the question's context.
func (q *question) cancel() { q.deadline.cancel() }

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
func (s *Server) answer(w http.ResponseWriter, r *http.Request, in questionIn, explain bool, fn func(q *question) (any, error)) {
	q, err := s.ask(r, in, explain)
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

// contextFacts is the one check of what a question brings (every
// endpoint that takes context facts, Oso, AuthZEN and local, goes through
// it): at most MaxContextFacts facts, attributes included; each context
// fact well-formed and one the policy can use (pol's ContextFactValidator:
// the check tell applies, known predicate, right arity, argument types the
// policy can match, but has_permission of any types), or a 400 naming the fact, its index and what was
// probably meant. Attribute facts the policy cannot use are left out.
// Nothing is stored.
func (s *Server) contextFacts(pol *policy.Compiled, in questionIn) ([]term.Fact, error) {
	where := in.where
	if where == "" {
		where = "context_facts"
	}
	if n := len(in.facts) + len(in.attrs); n > s.cfg.MaxContextFacts {
		what := where
		if len(in.attrs) > 0 {
			what += " and attributes"
		}
		return nil, errorf(http.StatusBadRequest, codeLimitExceeded,
			"%s: %d facts exceed the limit of %d (--max-context-facts)", what, n, s.cfg.MaxContextFacts)
	}
	if len(in.facts) == 0 && len(in.attrs) == 0 {
		return nil, nil
	}
	for i, w := range in.facts {
		if err := noWindows(w, fmt.Sprintf("%s[%d]", where, i), "a context fact"); err != nil {
			return nil, err
		}
	}
	facts, err := toFacts(in.facts, where)
	if err != nil {
		return nil, err
	}
	valid := pol.ContextFactValidator()
	if valid == nil {
		return append(facts, in.attrs...), nil
	}
	for i, f := range facts {
		if err := valid(f); err != nil {
			return nil, errorf(http.StatusBadRequest, codeInvalidFact, "%s[%d] %s: %v", where, i, f, err)
		}
	}
	for _, f := range in.attrs {
		if valid(f) == nil {
			facts = append(facts, f)
		}
	}
	return facts, nil
}

// explainParam reports whether the request asked for ?explain=true.
func explainParam(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false
	}
	v := r.URL.Query().Get("explain")
	return v == "true" || v == "1"
}
