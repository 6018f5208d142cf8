package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/rs/zerolog/hlog"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

type authorizeRequest struct {
	ActorType    *string          `json:"actor_type"`
	ActorID      *string          `json:"actor_id"`
	Action       *string          `json:"action"`
	ResourceType *string          `json:"resource_type"`
	ResourceID   *string          `json:"resource_id"`
	ContextFacts []wireFact       `json:"context_facts"`
	Attributes   []wireAttributes `json:"attributes"`
}

type authorizeResponse struct {
	Allowed     bool            `json:"allowed"`
	Explanation *explanationOut `json:"explanation,omitempty"`
}

// action validates an action name.
func action(a *string, where string) (string, error) {
	if a == nil || *a == "" {
		return "", badRequest("%s is required", where)
	}
	if len(*a) > term.MaxArgBytes {
		return "", badRequest("%s: %d bytes exceed the limit of %d", where, len(*a), term.MaxArgBytes)
	}
	return *a, nil
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	var req authorizeRequest
	if err := decodeAuthorize(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	actor, err := toValue(wireValue{req.ActorType, req.ActorID}, "actor")
	if err != nil {
		writeError(w, r, err)
		return
	}
	act, err := action(req.Action, "action")
	if err != nil {
		writeError(w, r, err)
		return
	}
	resource, err := toValue(wireValue{req.ResourceType, req.ResourceID}, "resource")
	if err != nil {
		writeError(w, r, err)
		return
	}
	in, err := contextIn(req.ContextFacts, req.Attributes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, in, explainParam(r), func(q *question) (any, error) {
		d, err := q.policy.Evaluator().Authorize(q.ctx, q.req, actor, act, resource)
		if err != nil {
			return nil, err
		}
		s.metrics.decision(d.Allowed, apiOso)
		s.decisions.record(stateFrom(r.Context()).id, d.Allowed)
		s.offerShadow(q.policy, q.req, "authorize", actor, act, resource, d.Allowed)
		var ex *explanationOut
		if d.Explanation != nil {
			ex = toExplanationOut(d.Explanation)
		}
		s.record(q, audit.Record{Actor: auditValue(actor), Action: act, Resource: auditValue(resource), Allowed: audit.Allowed(d.Allowed), Explanation: auditExplanation(ex)})
		switch {
		case ex != nil:
			return authorizeResponse{Allowed: d.Allowed, Explanation: ex}, nil
		case d.Allowed:
			return allowedTrue, nil
		}
		return allowedFalse, nil
	})
}

type authorizeResourcesRequest struct {
	ActorType    *string          `json:"actor_type"`
	ActorID      *string          `json:"actor_id"`
	Action       *string          `json:"action"`
	Resources    []wireValue      `json:"resources"`
	ContextFacts []wireFact       `json:"context_facts"`
	Attributes   []wireAttributes `json:"attributes"`
}

// checkAuthorizeResources validates an authorize_resources request.
func (s *Server) checkAuthorizeResources(req authorizeResourcesRequest) (actor term.Value, act string, resources []term.Value, err error) {
	if actor, err = toValue(wireValue{req.ActorType, req.ActorID}, "actor"); err != nil {
		return
	}
	if act, err = action(req.Action, "action"); err != nil {
		return
	}
	if len(req.Resources) > s.cfg.MaxBatchFacts {
		err = errorf(http.StatusBadRequest, codeLimitExceeded, "resources: %d resources exceed the limit of %d (--max-batch-facts)", len(req.Resources), s.cfg.MaxBatchFacts)
		return
	}
	resources = make([]term.Value, len(req.Resources))
	for i, wv := range req.Resources {
		if resources[i], err = toValue(wv, fmt.Sprintf("resources[%d]", i)); err != nil {
			return
		}
	}
	return actor, act, resources, nil
}

func (s *Server) handleAuthorizeResources(w http.ResponseWriter, r *http.Request) {
	var req authorizeResourcesRequest
	if err := decodeAuthorizeResources(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	actor, act, resources, err := s.checkAuthorizeResources(req)
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
		out := struct {
			Results []outValue `json:"results"`
		}{Results: []outValue{}}
		// One evaluation for the batch: the tables of the actor's roles
		// and the rules are shared by every resource.
		allowed, err := q.policy.Evaluator().AuthorizeEach(q.ctx, q.req, actor, act, resources)
		if err != nil {
			return nil, err
		}
		for i, ok := range allowed {
			s.metrics.decision(ok, apiOso)
			s.offerShadow(q.policy, q.req, "authorize_resources", actor, act, resources[i], ok)
			if ok {
				// As sent: order and duplicates are kept.
				out.Results = append(out.Results, outValue{Type: *req.Resources[i].Type, ID: *req.Resources[i].ID})
			}
		}
		s.record(q, audit.Record{Actor: auditValue(actor), Action: act, Resources: s.auditValues(resources), Count: s.auditCount(len(out.Results)), Results: s.auditOutValues(out.Results)})
		return out, nil
	})
}

type listRequest struct {
	ActorType    *string          `json:"actor_type"`
	ActorID      *string          `json:"actor_id"`
	Action       *string          `json:"action"`
	ResourceType *string          `json:"resource_type"`
	ContextFacts []wireFact       `json:"context_facts"`
	Attributes   []wireAttributes `json:"attributes"`
	PageSize     *int             `json:"page_size"`
	PageToken    *string          `json:"page_token"`
}

// defaultPageSize is the page size of a list that sends a page_token
// without a page_size.
const defaultPageSize = 10_000

// wildcardID stands for "every resource of the type" in list results.
const wildcardID = "*"

// check validates the actor, action and resource type of a list request.
func (req listRequest) check() (actor term.Value, act, resourceType string, err error) {
	if actor, err = toValue(wireValue{req.ActorType, req.ActorID}, "actor"); err != nil {
		return
	}
	if act, err = action(req.Action, "action"); err != nil {
		return
	}
	if req.ResourceType == nil || *req.ResourceType == "" {
		err = badRequest("resource_type is required")
		return
	}
	return actor, act, *req.ResourceType, nil
}

// The walks of paged lists kept between their pages (evaluator.Cursors):
// at most listCursors lists holding listCursorIDs ids in all (a few bytes
// each at most on the stores' indexes; a stream a resumed walk noted counts
// as evaluator's streamWeight ids), each for listCursorTTL after its last
// page. A page whose walk was dropped is still answered, by resuming it
// from its token or walking the list again.
const (
	listCursors   = 256
	listCursorIDs = 2_000_000
	listCursorTTL = 2 * time.Minute
)

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	var req listRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	actor, act, typ, err := req.check()
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.page(req.PageSize, req.PageToken, "page_size")
	if err != nil {
		writeError(w, r, err)
		return
	}
	page.Cursors = s.cursors
	in, err := contextIn(req.ContextFacts, req.Attributes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	paged := req.PageSize != nil || req.PageToken != nil
	if !paged && !explainParam(r) {
		s.streamList(w, r, in, actor, act, typ)
		return
	}
	s.answer(w, r, in, false, func(q *question) (any, error) {
		if err := s.pinPage(q, page.Token); err != nil {
			return nil, err
		}
		res, err := q.policy.Evaluator().List(q.ctx, q.req, actor, act, typ, page)
		if err != nil {
			return nil, err
		}
		results := listResults(res)
		out := map[string]any{"results": results}
		if paged {
			var next *string
			if res.NextToken != "" {
				next = &res.NextToken
			}
			out["next_page_token"] = next
		}
		if explainParam(r) {
			if out["explanation"], err = s.explainEach(q, res.IDs, func(id string) (term.Value, string, term.Value) {
				return actor, act, term.Value{Type: typ, ID: id}
			}); err != nil {
				return nil, err
			}
		}
		s.record(q, audit.Record{Actor: auditValue(actor), Action: act, ResourceType: typ, Count: s.auditCount(len(results)), Results: s.auditResults(results)})
		return out, nil
	})
}

// streamList answers an unpaged list as the evaluator finds the ids
// (evaluator.ListEach): {"results": [...]} is written as it goes, so a
// list of a million ids holds no copy of its answer. An error before the
// first id is the usual envelope; one after it (the time limit, say)
// aborts the response, which the client sees as a truncated body.
func (s *Server) streamList(w http.ResponseWriter, r *http.Request, in questionIn, actor term.Value, act, typ string) {
	q, err := s.ask(r, in, false)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer q.cancel()
	var buf []byte
	started, n := false, 0
	var kept []string // for the decision log, when it keeps results
	keep := s.recorder != nil && s.auditCfg.Results
	var writeErr error // the client went away
	flush := func() bool {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		_, writeErr = w.Write(buf)
		buf = buf[:0]
		return writeErr == nil
	}
	buf = append(buf, `{"results":[`...)
	var waited error // the list's turn did not come before its time limit
	holding := false
	err = q.policy.Evaluator().ListEach(q.ctx, q.req, actor, act, typ, func(id string, wildcard bool) bool {
		if n == evaluator.SortedMax {
			// Past its first ids the list is a long one: it waits for
			// its turn among the long lists (see bigLists).
			select {
			case s.bigLists <- struct{}{}:
				holding = true
			case <-q.ctx.Done():
				waited = fmt.Errorf("waiting for the lists before it: %w", q.ctx.Err())
				return false
			}
		}
		if wildcard {
			id = wildcardID
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, id)
		if n++; keep {
			kept = append(kept, id)
		}
		return len(buf) < 32<<10 || flush()
	})
	if holding {
		<-s.bigLists
	}
	if err == nil {
		err = waited
	}
	switch {
	case err != nil && !started:
		writeError(w, r, err)
		return
	case err != nil:
		hlog.FromRequest(r).Warn().Err(err).Int("sent", n).Msg("list aborted after part of its answer was sent")
		panic(http.ErrAbortHandler)
	case writeErr != nil:
		hlog.FromRequest(r).Debug().Err(writeErr).Int("sent", n).Msg("list not sent whole: the client went away")
		return
	}
	buf = append(buf, "]}\n"...)
	if !started {
		w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	}
	flush()
	s.record(q, audit.Record{Actor: auditValue(actor), Action: act, ResourceType: typ, Count: s.auditCount(n), Results: kept})
}

// bigLists is how many unpaged lists may stream past their first
// evaluator.SortedMax ids at once: one core fewer than the process may
// use, so that checks always find one while long lists run (the others
// wait their turn, within their time limit).
func bigLists() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			safe = false
			break
		}
	}
	if safe {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}

// pinPage makes q read the revision a list page token reads (when the
// token is from a later page): the pages of one list are consistent
// whatever is written meanwhile. A revision the store no longer keeps is
// store.ErrRevisionGone (410).
func (s *Server) pinPage(q *question, token string) error {
	if token == "" {
		return nil
	}
	rev, err := evaluator.PageTokenRevision(token)
	if err != nil {
		return err
	}
	if rev == q.req.Source.Revision() {
		return nil
	}
	pr, ok := s.store.(store.PastReader)
	if !ok {
		return fmt.Errorf("%w: this store reads only its latest revision", store.ErrRevisionGone)
	}
	snap, err := pr.SnapshotAt(q.ctx, rev)
	if err != nil {
		return err
	}
	q.req.Source = snap.At(q.req.Now)
	return nil
}

// listResults returns the ids of a list page, "*" first on the page where
// the walk found that every resource of the type is allowed.
func listResults(res evaluator.ListResult) []string {
	results := res.IDs
	if res.Wildcard {
		results = append([]string{wildcardID}, results...)
	}
	if results == nil {
		results = []string{}
	}
	return results
}

// explainEach explains the decision for each name (an id or an action):
// what ?explain=true adds to list and actions answers.
func (s *Server) explainEach(q *question, names []string, args func(string) (term.Value, string, term.Value)) (map[string]*explanationOut, error) {
	req := q.req
	req.Explain = true
	out := make(map[string]*explanationOut, len(names))
	for _, n := range names {
		actor, act, resource := args(n)
		d, err := q.policy.Evaluator().Authorize(q.ctx, req, actor, act, resource)
		if err != nil {
			return nil, err
		}
		out[n] = toExplanationOut(d.Explanation)
	}
	return out, nil
}

// page validates a page request against MaxPageSize.
func (s *Server) page(size *int, token *string, field string) (evaluator.Page, error) {
	var p evaluator.Page
	if token != nil {
		p.Token = *token
	}
	switch {
	case size != nil && *size <= 0:
		return p, badRequest("%s must be positive, got %d", field, *size)
	case size != nil && *size > s.cfg.MaxPageSize:
		return p, errorf(http.StatusBadRequest, codeLimitExceeded, "%s: %d exceeds the limit of %d (--max-page-size)", field, *size, s.cfg.MaxPageSize)
	case size != nil:
		p.Size = *size
	case p.Token != "":
		p.Size = min(defaultPageSize, s.cfg.MaxPageSize)
	}
	return p, nil
}

type actionsRequest struct {
	ActorType    *string          `json:"actor_type"`
	ActorID      *string          `json:"actor_id"`
	ResourceType *string          `json:"resource_type"`
	ResourceID   *string          `json:"resource_id"`
	ContextFacts []wireFact       `json:"context_facts"`
	Attributes   []wireAttributes `json:"attributes"`
}

type actionsResponse struct {
	Results []string `json:"results"`
}

// actions answers one actions request under q.
// pair is the actor and resource of an actions request.
func (req actionsRequest) pair() ([2]term.Value, error) {
	actor, err := toValue(wireValue{req.ActorType, req.ActorID}, "actor")
	if err != nil {
		return [2]term.Value{}, err
	}
	resource, err := toValue(wireValue{req.ResourceType, req.ResourceID}, "resource")
	if err != nil {
		return [2]term.Value{}, err
	}
	return [2]term.Value{actor, resource}, nil
}

func (s *Server) actions(q *question, req actionsRequest) (actionsResponse, error) {
	p, err := req.pair()
	if err != nil {
		return actionsResponse{}, err
	}
	actor, resource := p[0], p[1]
	acts, err := q.policy.Evaluator().Actions(q.ctx, q.req, actor, resource)
	if err != nil {
		return actionsResponse{}, err
	}
	if acts == nil {
		acts = []string{}
	}
	s.record(q, audit.Record{Actor: auditValue(actor), Resource: auditValue(resource), Count: s.auditCount(len(acts)), Results: s.auditResults(acts)})
	return actionsResponse{Results: acts}, nil
}

func (s *Server) handleActions(w http.ResponseWriter, r *http.Request) {
	var req actionsRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	in, err := contextIn(req.ContextFacts, req.Attributes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, in, false, func(q *question) (any, error) {
		out, err := s.actions(q, req)
		if err != nil || !explainParam(r) {
			return out, err
		}
		actor, _ := toValue(wireValue{req.ActorType, req.ActorID}, "actor")
		resource, _ := toValue(wireValue{req.ResourceType, req.ResourceID}, "resource")
		ex, err := s.explainEach(q, out.Results, func(a string) (term.Value, string, term.Value) { return actor, a, resource })
		if err != nil {
			return nil, err
		}
		return struct {
			actionsResponse
			Explanation map[string]*explanationOut `json:"explanation"`
		}{out, ex}, nil
	})
}

func (s *Server) handleBulkActions(w http.ResponseWriter, r *http.Request) {
	var reqs []actionsRequest
	if err := decodeBulkActions(r, &reqs); err != nil {
		writeError(w, r, err)
		return
	}
	if len(reqs) > s.cfg.MaxBatchFacts {
		writeError(w, r, errorf(http.StatusBadRequest, codeLimitExceeded, "%d queries exceed the limit of %d (--max-batch-facts)", len(reqs), s.cfg.MaxBatchFacts))
		return
	}
	// Context facts are taken from every element and apply to all of them
	// (go-oso-cloud v1 sent them on the first element only).
	var ctxFacts []wireFact
	var attrs []wireAttributes
	for _, req := range reqs {
		ctxFacts = append(ctxFacts, req.ContextFacts...)
		attrs = append(attrs, req.Attributes...)
	}
	pairs := make([][2]term.Value, len(reqs))
	for i, req := range reqs {
		var err error
		if pairs[i], err = req.pair(); err != nil {
			writeError(w, r, err)
			return
		}
	}
	in, err := contextIn(ctxFacts, attrs)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, in, false, func(q *question) (any, error) {
		// One evaluation for the batch: tables are shared by the pairs.
		acts, err := q.policy.Evaluator().ActionsEach(q.ctx, q.req, pairs)
		if err != nil {
			return nil, err
		}
		out := make([]actionsResponse, len(reqs))
		for i, a := range acts {
			s.record(q, audit.Record{Actor: auditValue(pairs[i][0]), Resource: auditValue(pairs[i][1]), Count: s.auditCount(len(a)), Results: s.auditResults(a)})
			out[i] = actionsResponse{Results: a}
		}
		return out, nil
	})
}
