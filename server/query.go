package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
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
	Attributes   []wireAttributes          `json:"attributes"`
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
		if *c.Type == lang.AbstractActor || *c.Type == lang.AbstractResource {
			return q, badRequest("constraints.%s: type %s is abstract; use a concrete type such as User or Repository (type constraints match exactly)", name, *c.Type)
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
	in, err := contextIn(req.ContextFacts, req.Attributes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, in, false, func(q *question) (any, error) {
		rows, err := q.policy.Evaluator().Query(q.ctx, q.req, query)
		if err != nil {
			return nil, err
		}
		if rows == nil {
			rows = []evaluator.Row{}
		}
		s.record(q, audit.Record{Query: s.auditQuery(query), Count: s.auditCount(len(rows))})
		return struct {
			Results []evaluator.Row `json:"results"`
		}{rows}, nil
	})
}

type queryV1Request struct {
	Fact         *wireFact        `json:"fact"`
	ContextFacts []wireFact       `json:"context_facts"`
	Attributes   []wireAttributes `json:"attributes"`
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
// query builder with one call. Every argument of a result carries its
// type; an argument that holds for any value comes back as a pattern
// value: id null, and type null when it holds for a value of any type
// (see v1Results).
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
	in, err := contextIn(req.ContextFacts, req.Attributes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, in, false, func(q *question) (any, error) {
		rows, err := q.policy.Evaluator().QueryValues(q.ctx, q.req, query)
		if err != nil {
			return nil, err
		}
		s.record(q, audit.Record{Query: s.auditQuery(query), Count: s.auditCount(len(rows))})
		return struct {
			Results []v1Fact `json:"results"`
		}{v1Results(pat, query.Predicate.Args, rows)}, nil
	})
}

// v1Fact is a result of POST /api/query: a fact whose wildcard arguments
// have a null id (and a null type when they hold for any type).
type v1Fact struct {
	Predicate string      `json:"predicate"`
	Args      []wireValue `json:"args"`
}

// v1Results renders the rows of the query v1Query built from pat (vars
// names the variable of each argument) as facts, distinct and sorted
// argument by argument: a wildcard first, then by type, then by id.
//
// A value holds its own type, which is the pattern's when the pattern
// gave one (variables match exact types). A wildcard holds for any value
// of the pattern's type when the pattern gave one, else of the type the
// policy gave it, else of any type; only the id, or both, are then null.
func v1Results(pat term.Pattern, vars []string, rows []evaluator.ValueRow) []v1Fact {
	vals := make([][]term.Value, 0, len(rows))
	for _, row := range rows {
		args := make([]term.Value, len(vars))
		for i, name := range vars {
			v := row[name]
			if v.ID == "" && pat.Args[i].Type != "" {
				v.Type = pat.Args[i].Type
			}
			args[i] = v
		}
		vals = append(vals, args)
	}
	slices.SortFunc(vals, func(a, b []term.Value) int {
		for i := range a {
			if c := cmp.Or(cmp.Compare(min(len(a[i].ID), 1), min(len(b[i].ID), 1)), strings.Compare(a[i].Type, b[i].Type), strings.Compare(a[i].ID, b[i].ID)); c != 0 {
				return c
			}
		}
		return 0
	})
	vals = slices.CompactFunc(vals, slices.Equal)
	out := make([]v1Fact, len(vals))
	for i, args := range vals {
		f := v1Fact{Predicate: pat.Predicate, Args: make([]wireValue, len(args))}
		for k, v := range args {
			if v.Type != "" {
				f.Args[k].Type = &v.Type
			}
			if v.ID != "" {
				f.Args[k].ID = &v.ID
			}
		}
		out[i] = f
	}
	return out
}
