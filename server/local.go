package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/localauth"
)

// Oso's local authorization: /api/authorize_query, /api/list_query,
// /api/actions_query and /api/evaluate_query_local answer with SQL for
// the application's own database, built from the data bindings the SDK
// sends with every call. The answer is exactly {"sql": "..."}.

// routeLocal adds the local-authorization endpoints.
func (s *Server) routeLocal(r chi.Router) {
	r.Post("/api/authorize_query", s.handleAuthorizeQuery)
	r.Post("/api/list_query", s.handleListQuery)
	r.Post("/api/actions_query", s.handleActionsQuery)
	r.Post("/api/evaluate_query_local", s.handleEvaluateQueryLocal)
}

// localRequest is the body of the four local endpoints.
type localRequest struct {
	Query        json.RawMessage `json:"query"`
	DataBindings *string         `json:"data_bindings"`
	Column       *string         `json:"column"`
	Mode         *localMode      `json:"mode"`
}

// localMode is the mode of /api/evaluate_query_local.
type localMode struct {
	Mode          string            `json:"mode"`
	Columns       map[string]string `json:"query_vars_to_output_column_names"`
	OutputColumn  *string           `json:"output_column_name"`
	QueryVariable *string           `json:"query_var"`
}

type sqlResponse struct {
	SQL string `json:"sql"`
}

// localQuestion is one local question: the query, which of its
// variables the SQL answers, and how the residual becomes SQL.
type localQuestion struct {
	query   evaluator.Query
	outputs []string
	ctx     []wireFact
	attrs   []wireAttributes
	sql     func(b *localauth.Bindings, res *evaluator.Residual) string
	// authorize: remember the decision for parity (/api/expect).
	authorize bool
}

// decodeLocal decodes the envelope and the inner query into q.
func decodeLocal(r *http.Request, inner any) (localRequest, error) {
	var req localRequest
	if err := decodeJSON(r, &req); err != nil {
		return req, err
	}
	if req.DataBindings == nil {
		return req, badRequest("data_bindings is required: the contents of the data-bindings YAML file (configure the SDK with a data-bindings file)")
	}
	if len(req.Query) == 0 || string(req.Query) == "null" {
		return req, badRequest("query is required")
	}
	dec := json.NewDecoder(bytes.NewReader(req.Query))
	dec.DisallowUnknownFields()
	if err := dec.Decode(inner); err != nil {
		if ae, ok := errors.AsType[*apiError](err); ok {
			return req, ae
		}
		je := jsonError(err)
		if ae, ok := errors.AsType[*apiError](je); ok {
			ae.Message = "query: " + ae.Message
		}
		return req, je
	}
	return req, nil
}

func (s *Server) handleAuthorizeQuery(w http.ResponseWriter, r *http.Request) {
	s.authorizeOrActionsQuery(w, r, true)
}

func (s *Server) handleActionsQuery(w http.ResponseWriter, r *http.Request) {
	s.authorizeOrActionsQuery(w, r, false)
}

// authorizeOrActionsQuery answers /api/authorize_query (one row, allowed)
// or /api/actions_query (a row per action): the same question about one
// resource, with the action given or asked.
func (s *Server) authorizeOrActionsQuery(w http.ResponseWriter, r *http.Request, authorize bool) {
	var in authorizeRequest
	req, err := decodeLocal(r, &in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	actor, err := toValue(wireValue{in.ActorType, in.ActorID}, "query.actor")
	if err == nil {
		var resource term.Value
		if resource, err = toValue(wireValue{in.ResourceType, in.ResourceID}, "query.resource"); err == nil {
			lq := localQuestion{query: allowQuery(actor, nil, resource.Type, &resource.ID), outputs: []string{"action"},
				ctx: in.ContextFacts, attrs: in.Attributes, sql: (*localauth.Bindings).ActionsSQL}
			if authorize {
				var act string
				if act, err = action(in.Action, "query.action"); err == nil {
					lq = localQuestion{query: allowQuery(actor, &act, resource.Type, &resource.ID),
						ctx: in.ContextFacts, attrs: in.Attributes, sql: (*localauth.Bindings).AuthorizeSQL, authorize: true}
				}
			} else if in.Action != nil {
				err = badRequest("query: unknown field \"action\" (actions_query asks which actions)")
			}
			if err == nil {
				s.local(w, r, req, lq)
				return
			}
		}
	}
	writeError(w, r, err)
}

func (s *Server) handleListQuery(w http.ResponseWriter, r *http.Request) {
	var in listRequest
	req, err := decodeLocal(r, &in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	actor, act, typ, err := in.check()
	if err != nil {
		writeError(w, r, err)
		return
	}
	column, err := localColumn(req.Column, "column")
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.local(w, r, req, localQuestion{
		query:   allowQuery(actor, &act, typ, nil),
		outputs: []string{"resource"},
		ctx:     in.ContextFacts,
		attrs:   in.Attributes,
		sql: func(b *localauth.Bindings, res *evaluator.Residual) string {
			return b.ListSQL(res, column)
		},
	})
}

func (s *Server) handleEvaluateQueryLocal(w http.ResponseWriter, r *http.Request) {
	var in evaluateQueryRequest
	req, err := decodeLocal(r, &in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	query, err := s.toQuery(in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	lq := localQuestion{query: query, ctx: in.ContextFacts, attrs: in.Attributes}
	switch m := req.Mode; {
	case m == nil:
		writeError(w, r, badRequest(`mode is required: {"mode": "select", "query_vars_to_output_column_names": {...}} or {"mode": "filter", "output_column_name": ..., "query_var": ...}`))
		return
	case m.Mode == "select":
		vars := make([]string, 0, len(m.Columns))
		for v := range m.Columns {
			vars = append(vars, v)
		}
		sort.Strings(vars)
		cols := make([]string, len(vars))
		for i, v := range vars {
			if _, ok := query.Constraints[v]; !ok {
				writeError(w, r, badRequest("mode.query_vars_to_output_column_names: %q is not a variable of the query", v))
				return
			}
			if m.Columns[v] == "" {
				writeError(w, r, badRequest("mode.query_vars_to_output_column_names.%s: the column name is empty", v))
				return
			}
			cols[i] = m.Columns[v]
		}
		lq.outputs = vars
		lq.sql = func(b *localauth.Bindings, res *evaluator.Residual) string { return b.SelectSQL(res, cols) }
	case m.Mode == "filter":
		column, err := localColumn(m.OutputColumn, "mode.output_column_name")
		if err != nil {
			writeError(w, r, err)
			return
		}
		if m.QueryVariable == nil {
			writeError(w, r, badRequest("mode.query_var is required"))
			return
		}
		if _, ok := query.Constraints[*m.QueryVariable]; !ok {
			writeError(w, r, badRequest("mode.query_var: %q is not a variable of the query", *m.QueryVariable))
			return
		}
		lq.outputs = []string{*m.QueryVariable}
		lq.sql = func(b *localauth.Bindings, res *evaluator.Residual) string { return b.ListSQL(res, column) }
	default:
		writeError(w, r, badRequest(`mode.mode must be "select" or "filter", not %q`, m.Mode))
		return
	}
	s.local(w, r, req, lq)
}

// local answers one local question: it parses and checks the bindings
// under the live policy, asks the evaluator for the residual and writes
// its SQL.
func (s *Server) local(w http.ResponseWriter, r *http.Request, req localRequest, lq localQuestion) {
	in, err := contextIn(lq.ctx, lq.attrs)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, in, false, func(q *question) (any, error) {
		b, err := s.bindings.get(q.policy.Program(), *req.DataBindings)
		if err != nil {
			return nil, badRequest("%s", err.Error())
		}
		res, err := q.policy.Evaluator().Residual(q.ctx, q.req, b.shapes, lq.query, lq.outputs)
		if errors.Is(err, evaluator.ErrUnsupported) {
			return nil, badRequest("%s", err.Error())
		}
		if err != nil {
			return nil, err
		}
		sql := lq.sql(b.Bindings, res)
		if lq.authorize {
			s.recordLocalDecision(stateFrom(r.Context()).id, sql)
		}
		s.record(q, audit.Record{Query: s.auditQuery(lq.query), Results: s.auditResults([]string{sql})})
		return sqlResponse{SQL: sql}, nil
	})
}

// recordLocalDecision remembers the decision of an /api/authorize_query
// for /api/expect (parity handles). When stored and context facts decide
// alone, the SQL is a constant and the decision is Castellan's, recorded
// as /api/authorize records it. Otherwise the application's database
// decides and Castellan never learns the answer: the request is
// remembered as such, and an expectation about it is counted as unknown
// with a message saying why, rather than compared with a guess.
func (s *Server) recordLocalDecision(id, sql string) {
	switch sql {
	case localauth.AllowedSQL:
		s.decisions.record(id, true)
	case localauth.DeniedSQL:
		s.decisions.record(id, false)
	default:
		s.decisions.recordLocal(id)
	}
}

// maxCachedBindings bounds the data-bindings files bindingsCache keeps.
const maxCachedBindings = 64

// bindingsCache keeps data-bindings files parsed and checked against a
// policy, keyed by the policy's program and the SHA-256 of the file: an
// application sends the same file with every local call, and parsing its
// YAML would cost as much as the rest of the answer. Invalid files are
// kept too, with their error. When full, an arbitrary entry makes room.
// The zero value is ready to use.
type bindingsCache struct {
	mu sync.Mutex
	m  map[bindingsKey]*checkedBindings
}

type bindingsKey struct {
	prog *lang.Program
	sum  [sha256.Size]byte
}

// checkedBindings is one file parsed and checked against one program.
type checkedBindings struct {
	*localauth.Bindings
	shapes []evaluator.LocalShape
	err    error
}

// get returns src parsed and checked against prog, or why it cannot be.
func (c *bindingsCache) get(prog *lang.Program, src string) (*checkedBindings, error) {
	key := bindingsKey{prog: prog, sum: sha256.Sum256([]byte(src))}
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok {
		e = &checkedBindings{}
		e.Bindings, e.err = localauth.ParseBindings(src)
		if e.err == nil {
			e.err = e.Check(prog)
		}
		if e.err == nil {
			e.shapes = e.Shapes()
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = make(map[bindingsKey]*checkedBindings, maxCachedBindings)
		}
		for k := range c.m {
			if len(c.m) < maxCachedBindings {
				break
			}
			delete(c.m, k)
		}
		c.m[key] = e
		c.mu.Unlock()
	}
	return e, e.err
}

// allowQuery is allow(actor, action, resource) as a query; a nil action
// or resource id is the variable the SQL answers.
func allowQuery(actor term.Value, act *string, resourceType string, resourceID *string) evaluator.Query {
	q := evaluator.Query{
		Predicate: evaluator.Call{Name: "allow", Args: []string{"actor", "action", "resource"}},
		Constraints: map[string]evaluator.Constraint{
			"actor":    {Type: actor.Type, IDs: []string{actor.ID}},
			"action":   {Type: term.TypeString},
			"resource": {Type: resourceType},
		},
	}
	if act != nil {
		q.Constraints["action"] = evaluator.Constraint{Type: term.TypeString, IDs: []string{*act}}
	}
	if resourceID != nil {
		q.Constraints["resource"] = evaluator.Constraint{Type: resourceType, IDs: []string{*resourceID}}
	}
	return q
}

// localColumn validates the SQL column a list or filter answers about.
func localColumn(c *string, where string) (string, error) {
	if c == nil || *c == "" {
		return "", badRequest("%s is required: the SQL column that holds the resource id (such as issues.id)", where)
	}
	if err := localauth.CheckColumn(*c); err != nil {
		return "", badRequest("%s: %q is not a column name (such as id, issues.id or \"Issue\".\"id\")", where, *c)
	}
	return *c, nil
}
