package server

import (
	"sort"
	"strings"
	"time"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
)

// DecisionLog configures what the decision log keeps of each decision.
type DecisionLog struct {
	// ContextFacts is what a record keeps of the context facts sent
	// (default audit.ContextAll).
	ContextFacts audit.ContextMode
	// Results keeps the results of lists, searches, queries and batches
	// (ids, actions, SQL); without it a record has their count only.
	Results bool
	// Search answers GET /admin/v1/decisions; nil when the log cannot be
	// searched (standard output).
	Search audit.Searcher
}

// WithDecisionLog records every decision (authorize, lists, actions,
// queries, batches, AuthZEN, local authorization) to rec, which the caller
// closes after the server stops answering. A decision is answered only
// once its record is buffered (see audit.Recorder.Record).
func WithDecisionLog(rec *audit.Recorder, o DecisionLog) Option {
	return func(s *Server) {
		if o.ContextFacts == "" {
			o.ContextFacts = audit.ContextAll
		}
		s.recorder, s.auditCfg = rec, o
	}
}

// record writes one decision, asked under q, to the decision log; it fills
// in the request id, caller, latency, policy version, revision and context
// facts. Without a decision log it does nothing.
func (s *Server) record(q *question, rec audit.Record) {
	if s.tracer != nil {
		if t := stateFrom(q.ctx).trace; t != nil {
			traceDecision(t, &rec, q.policy.Version(), q.req.Source.Revision())
		}
	}
	if s.recorder == nil {
		return
	}
	st := stateFrom(q.ctx)
	p := new(audit.Record)
	*p = rec
	p.Time = time.Now()
	p.RequestID, p.Caller = st.id, st.caller.ID
	if p.Endpoint == "" {
		p.Endpoint = auditEndpoint(st.path)
	}
	if !st.start.IsZero() {
		p.Latency = p.Time.Sub(st.start)
	}
	p.PolicyVersion = q.policy.Version()
	p.Revision = q.req.Source.Revision()
	for _, f := range q.verified {
		if f.Predicate == predRequestOnBehalfOf && len(f.Args) == 1 {
			p.OnBehalfOf = f.Args[0].Type + ":" + f.Args[0].ID
		}
	}
	if len(q.req.Context) > 0 && s.auditCfg.ContextFacts != audit.ContextNone {
		facts := make([]string, len(q.req.Context))
		for i, f := range q.req.Context {
			facts[i] = f.String()
		}
		if s.auditCfg.ContextFacts == audit.ContextHashed {
			p.ContextFactsSHA256 = audit.HashFacts(facts)
		} else {
			p.ContextFacts = facts
		}
	}
	s.recorder.Record(p)
}

// auditValue is v as a record holds it.
func auditValue(v term.Value) audit.Value { return audit.Value{Type: v.Type, ID: v.ID} }

// auditValues is vs as a record holds them (nil without a decision log).
func (s *Server) auditValues(vs []term.Value) []audit.Value {
	if s.recorder == nil {
		return nil
	}
	out := make([]audit.Value, len(vs))
	for i, v := range vs {
		out[i] = auditValue(v)
	}
	return out
}

// auditCount is n for Record.Count (nil without a decision log).
func (s *Server) auditCount(n int) *int {
	if s.recorder == nil {
		return nil
	}
	c := n // on the heap only here: &n would move n there on every call
	return &c
}

// auditResults is results for Record.Results: nil unless the decision log
// keeps results.
func (s *Server) auditResults(results []string) []string {
	if s.recorder == nil || !s.auditCfg.Results {
		return nil
	}
	return results
}

// auditOutValues is vs as Record.Results ("type:id" each): nil unless
// the decision log keeps results.
func (s *Server) auditOutValues(vs []outValue) []string {
	if s.recorder == nil || !s.auditCfg.Results {
		return nil
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.Type + ":" + v.ID
	}
	return ids
}

// auditExplanation is ex for Record.Explanation (nil, not a typed nil,
// when there is none).
func auditExplanation(ex *explanationOut) any {
	if ex == nil {
		return nil
	}
	return ex
}

// auditQuery prints q for Record.Query ("" without a decision log):
// its calls, then each variable's constraint, sorted.
func (s *Server) auditQuery(q evaluator.Query) string {
	if s.recorder == nil {
		return ""
	}
	var b strings.Builder
	for i, c := range append([]evaluator.Call{q.Predicate}, q.Calls...) {
		if i > 0 {
			b.WriteString(" and ")
		}
		b.WriteString(c.Name + "(" + strings.Join(c.Args, ", ") + ")")
	}
	vars := make([]string, 0, len(q.Constraints))
	for v := range q.Constraints {
		vars = append(vars, v)
	}
	sort.Strings(vars)
	for i, v := range vars {
		c := q.Constraints[v]
		if i == 0 {
			b.WriteString(" where ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(v + ": " + c.Type)
		if c.IDs != nil {
			b.WriteString("{" + strings.Join(c.IDs, ", ") + "}")
		}
	}
	return b.String()
}

// auditEndpoint names the question asked at path for Record.Endpoint: the
// path without /api/ (authzen.* for /access/v1/).
func auditEndpoint(p string) string {
	if rest, ok := strings.CutPrefix(p, "/access/v1/"); ok {
		return "authzen." + strings.ReplaceAll(rest, "/", ".")
	}
	return strings.TrimPrefix(p, "/api/")
}
