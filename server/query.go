package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
)

// wireCall is one call of the query builder: ["name", ["var", ...]].
type wireCall struct {
	Name string
	Args []string
}

// UnmarshalJSON decodes the two-element array form.
func (c *wireCall) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 2 {
		return badRequest(`a call must be ["predicate", ["var", ...]]`)
	}
	if err := json.Unmarshal(raw[0], &c.Name); err != nil {
		return badRequest(`a call must be ["predicate", ["var", ...]]: the predicate must be a string`)
	}
	if err := json.Unmarshal(raw[1], &c.Args); err != nil {
		return badRequest(`a call must be ["predicate", ["var", ...]]: the arguments must be variable names`)
	}
	return nil
}

// wireConstraint constrains one query variable: its type and, optionally,
// the ids it may take.
type wireConstraint struct {
	Type *string  `json:"type"`
	IDs  []string `json:"ids"`
}

type evaluateQueryRequest struct {
	Predicate    *wireCall                 `json:"predicate"`
	Calls        []wireCall                `json:"calls"`
	Constraints  map[string]wireConstraint `json:"constraints"`
	ContextFacts []wireFact                `json:"context_facts"`
}

// toQuery validates a query-builder request: every variable constrained
// with a concrete type, ids canonical for it.
func (s *Server) toQuery(req evaluateQueryRequest) (evaluator.Query, error) {
	if req.Predicate == nil || req.Predicate.Name == "" {
		return evaluator.Query{}, badRequest("predicate is required")
	}
	q := evaluator.Query{
		Predicate:   evaluator.Call{Name: req.Predicate.Name, Args: req.Predicate.Args},
		Constraints: make(map[string]evaluator.Constraint, len(req.Constraints)),
	}
	if len(req.Calls) > s.cfg.MaxBatchFacts {
		return q, errorf(http.StatusBadRequest, codeLimitExceeded, "calls: %d calls exceed the limit of %d (--max-batch-facts)", len(req.Calls), s.cfg.MaxBatchFacts)
	}
	for _, c := range req.Calls {
		if c.Name == "" {
			return q, badRequest("calls: a call needs a predicate")
		}
		q.Calls = append(q.Calls, evaluator.Call{Name: c.Name, Args: c.Args})
	}
	names := make([]string, 0, len(req.Constraints))
	for name := range req.Constraints {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := req.Constraints[name]
		if c.Type == nil || *c.Type == "" {
			return q, badRequest("constraints.%s: type is required", name)
		}
		qc := evaluator.Constraint{Type: *c.Type}
		if c.IDs != nil {
			qc.IDs = make([]string, len(c.IDs))
			for i, id := range c.IDs {
				v, err := normalizeValue(*c.Type, id, fmt.Sprintf("constraints.%s.ids[%d]", name, i))
				if err != nil {
					return q, err
				}
				qc.IDs[i] = v.ID
			}
		}
		q.Constraints[name] = qc
	}
	for _, call := range append([]evaluator.Call{q.Predicate}, q.Calls...) {
		for _, v := range call.Args {
			if _, ok := q.Constraints[v]; !ok {
				return q, badRequest("%s: variable %q has no constraint (every variable needs a type in constraints)", call.Name, v)
			}
		}
	}
	return q, nil
}

func (s *Server) handleEvaluateQuery(w http.ResponseWriter, r *http.Request) {
	var req evaluateQueryRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	query, err := s.toQuery(req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := s.ask(r, req.ContextFacts, false)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer q.cancel()
	rows, err := q.policy.eval.Query(q.ctx, q.req, query)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if rows == nil {
		rows = []evaluator.Row{}
	}
	writeJSON(w, http.StatusOK, struct {
		Results []evaluator.Row `json:"results"`
	}{rows})
}

type queryV1Request struct {
	Fact         *wireFact  `json:"fact"`
	ContextFacts []wireFact `json:"context_facts"`
}

// v1Query turns the pattern of POST /api/query into a one-call query:
// argument i is variable "argI", constrained by the pattern's type and id.
func v1Query(w wireFact) (evaluator.Query, term.Pattern, error) {
	pat, err := toPattern(w, "fact")
	if err != nil {
		return evaluator.Query{}, pat, err
	}
	if pat.Predicate == "" {
		return evaluator.Query{}, pat, badRequest("fact: predicate is required")
	}
	q := evaluator.Query{Predicate: evaluator.Call{Name: pat.Predicate}, Constraints: map[string]evaluator.Constraint{}}
	for i, a := range pat.Args {
		v := fmt.Sprintf("arg%d", i)
		q.Predicate.Args = append(q.Predicate.Args, v)
		c := evaluator.Constraint{Type: a.Type}
		if a.ID != "" {
			if a.Type == "" {
				return q, pat, badRequest("fact: argument %d has an id but no type", i+1)
			}
			c.IDs = []string{a.ID}
		}
		q.Constraints[v] = c
	}
	return q, pat, nil
}

// handleQueryV1 answers the older POST /api/query: the stored or derived
// facts matching a pattern whose null arguments are variables. It is the
// query builder with one call; an argument that holds for any value comes
// back with id "*".
func (s *Server) handleQueryV1(w http.ResponseWriter, r *http.Request) {
	var req queryV1Request
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Fact == nil {
		writeError(w, r, badRequest("fact is required"))
		return
	}
	query, pat, err := v1Query(*req.Fact)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := s.ask(r, req.ContextFacts, false)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer q.cancel()
	rows, err := q.policy.eval.Query(q.ctx, q.req, query)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Results []outFact `json:"results"`
	}{Results: make([]outFact, 0, len(rows))}
	for _, row := range rows {
		f := term.Fact{Predicate: pat.Predicate, Args: make([]term.Value, len(pat.Args))}
		for i, a := range pat.Args {
			f.Args[i] = term.Value{Type: a.Type, ID: wildcardID}
			if id := row[query.Predicate.Args[i]]; id != nil {
				f.Args[i].ID = *id
			}
		}
		out.Results = append(out.Results, toOutFact(f))
	}
	writeJSON(w, http.StatusOK, out)
}
