package server

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
)

// AuthZEN 1.0 (OpenID Authorization API): subject = actor, action.name =
// action, resource = resource; a request's context may carry
// "context_facts" in the Oso wire format. The properties of the subject,
// action and resource and the other keys of the context become attribute
// facts (attributes.go). A deny is 200 {"decision": false}.

type azEntity struct {
	Type       *string         `json:"type"`
	ID         *string         `json:"id"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

type azAction struct {
	Name       *string         `json:"name"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

// azContext is the free-form context; Castellan reads context_facts and
// on_behalf_of (the end user's token, as the Castellan-On-Behalf-Of
// header carries it); every other key is an attribute of the request
// (has_context).
type azContext struct {
	ContextFacts []wireFact      `json:"context_facts"`
	OnBehalfOf   string          `json:"on_behalf_of"`
	Properties   json.RawMessage `json:"-"` // the other keys, as one object
}

// UnmarshalJSON reads context_facts and on_behalf_of, and keeps the other
// keys as the request's properties.
func (c *azContext) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return badRequest("context must be an object")
	}
	if len(raw) > 0 {
		rest := make(map[string]json.RawMessage, len(raw))
		for k, v := range raw {
			if k != "context_facts" && k != "on_behalf_of" {
				rest[k] = v
			}
		}
		if len(rest) > 0 {
			c.Properties, _ = json.Marshal(rest)
		}
	}
	if cf, ok := raw["context_facts"]; ok {
		if err := json.Unmarshal(cf, &c.ContextFacts); err != nil {
			return badRequest("context.context_facts must be an array of facts {predicate, args: [{type, id}]}")
		}
	}
	if obo, ok := raw["on_behalf_of"]; ok {
		if err := json.Unmarshal(obo, &c.OnBehalfOf); err != nil || c.OnBehalfOf == "" {
			return badRequest("context.on_behalf_of must be the end user's token (a non-empty string)")
		}
	}
	return nil
}

// azTuple is one evaluation: the request or an item of a batch.
type azTuple struct {
	Subject  *azEntity  `json:"subject"`
	Action   *azAction  `json:"action"`
	Resource *azEntity  `json:"resource"`
	Context  *azContext `json:"context"`
}

// withDefaults fills what t leaves out from d (the batch's top level).
func (t azTuple) withDefaults(d azTuple) azTuple {
	if t.Subject == nil {
		t.Subject = d.Subject
	}
	if t.Action == nil {
		t.Action = d.Action
	}
	if t.Resource == nil {
		t.Resource = d.Resource
	}
	if t.Context == nil {
		t.Context = d.Context
	}
	return t
}

// questionIn is what an evaluation brings besides its goal: the context
// facts of its context and, as attribute facts, the properties of its
// subject, action and resource (of those named by type and id) and the
// other keys of its context.
func (t azTuple) questionIn() (questionIn, error) {
	in := questionIn{where: "context.context_facts"}
	var err error
	entity := func(e *azEntity, where string) error {
		if e == nil || len(e.Properties) == 0 || e.Type == nil || e.ID == nil || *e.Type == "" || *e.ID == "" {
			return nil
		}
		v, err := toValue(wireValue{e.Type, e.ID}, where)
		if err != nil {
			return err
		}
		in.attrs, err = appendProperties(in.attrs, &v, e.Properties, where+".properties")
		return err
	}
	if err = entity(t.Subject, "subject"); err != nil {
		return in, err
	}
	if err = entity(t.Resource, "resource"); err != nil {
		return in, err
	}
	if a := t.Action; a != nil && a.Name != nil && *a.Name != "" && len(a.Properties) > 0 {
		v := term.String(*a.Name)
		if in.attrs, err = appendProperties(in.attrs, &v, a.Properties, "action.properties"); err != nil {
			return in, err
		}
	}
	if c := t.Context; c != nil {
		in.facts = c.ContextFacts
		if in.attrs, err = appendProperties(in.attrs, nil, c.Properties, "context"); err != nil {
			return in, err
		}
	}
	return in, nil
}

// check is one evaluation's validated arguments.
type azCheck struct {
	actor, resource term.Value
	action          string
}

func (t azTuple) check() (azCheck, error) {
	var c azCheck
	var err error
	if t.Subject == nil {
		return c, badRequest("subject is required")
	}
	if c.actor, err = toValue(wireValue{t.Subject.Type, t.Subject.ID}, "subject"); err != nil {
		return c, err
	}
	if t.Action == nil {
		return c, badRequest("action is required")
	}
	if c.action, err = action(t.Action.Name, "action.name"); err != nil {
		return c, err
	}
	if t.Resource == nil {
		return c, badRequest("resource is required")
	}
	if c.resource, err = toValue(wireValue{t.Resource.Type, t.Resource.ID}, "resource"); err != nil {
		return c, err
	}
	return c, nil
}

// azDecision is an evaluation's answer.
type azDecision struct {
	Decision bool           `json:"decision"`
	Context  map[string]any `json:"context,omitempty"`
}

// onBehalfOfContext verifies the user token of an evaluation's
// context.on_behalf_of and returns the request's verified facts with that
// user (instead of the header's, if any).
func (s *Server) onBehalfOfContext(q *question, token string) ([]term.Fact, error) {
	r := q.httpReq
	user, err := s.verifyUser(r, token, "context.on_behalf_of")
	if err != nil {
		return nil, err
	}
	return verifiedFacts(stateFrom(r.Context()).caller, user), nil
}

// azPrepared is an evaluation checked and ready for the evaluator: its
// arguments and its request (context facts and verified facts).
type azPrepared struct {
	c        azCheck
	req      evaluator.Request
	verified []term.Fact
}

// prepare checks one evaluation under q (its context facts replace q's).
func (s *Server) prepare(q *question, t azTuple) (azPrepared, error) {
	var p azPrepared
	var err error
	if p.c, err = t.check(); err != nil {
		return p, err
	}
	p.req = q.req
	in, err := t.questionIn()
	if err != nil {
		return p, err
	}
	if p.req.Context, err = s.contextFacts(q.policy, in); err != nil {
		return p, err
	}
	p.verified = q.verified
	if t.Context != nil && t.Context.OnBehalfOf != "" {
		if p.verified, err = s.onBehalfOfContext(q, t.Context.OnBehalfOf); err != nil {
			return p, err
		}
	}
	p.req.Context = append(p.req.Context, p.verified...)
	return p, nil
}

// decided counts, offers to the shadow policy and records the decision d
// of the prepared evaluation p, and returns its answer.
func (s *Server) decided(q *question, p azPrepared, d evaluator.Decision) azDecision {
	c := p.c
	s.metrics.decision(d.Allowed, apiAuthZEN)
	s.offerShadow(q.policy, p.req, "authzen.evaluation", c.actor, c.action, c.resource, d.Allowed)
	out := azDecision{Decision: d.Allowed}
	var ex *explanationOut
	if d.Explanation != nil {
		ex = toExplanationOut(d.Explanation)
		out.Context = map[string]any{"explanation": ex}
	}
	s.record(&question{ctx: q.ctx, policy: q.policy, req: p.req, verified: p.verified}, audit.Record{Actor: auditValue(c.actor), Action: c.action, Resource: auditValue(c.resource), Allowed: audit.Allowed(d.Allowed), Explanation: auditExplanation(ex)})
	return out
}

// evaluate answers one evaluation under q (its context facts replace q's).
func (s *Server) evaluate(q *question, t azTuple) (azDecision, error) {
	p, err := s.prepare(q, t)
	if err != nil {
		return azDecision{}, err
	}
	d, err := q.policy.Evaluator().Authorize(q.ctx, p.req, p.c.actor, p.c.action, p.c.resource)
	if err != nil {
		return azDecision{}, err
	}
	return s.decided(q, p, d), nil
}

func (s *Server) handleEvaluation(w http.ResponseWriter, r *http.Request) {
	var t azTuple
	if err := decodeJSONLenient(r, &t); err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, questionIn{}, explainParam(r), func(q *question) (any, error) { return s.evaluate(q, t) })
}

type azEvaluationsRequest struct {
	azTuple
	Evaluations []azTuple `json:"evaluations"`
	Options     struct {
		Semantic string `json:"evaluations_semantic"`
	} `json:"options"`
}

// Evaluation semantics of a batch.
const (
	semanticExecuteAll   = "execute_all"
	semanticDenyOnDeny   = "deny_on_first_deny"
	semanticPermitOnPerm = "permit_on_first_permit"
)

// semantic returns the batch's evaluations_semantic, execute_all by default.
func (req azEvaluationsRequest) semantic() (string, error) {
	switch sem := req.Options.Semantic; sem {
	case "":
		return semanticExecuteAll, nil
	case semanticExecuteAll, semanticDenyOnDeny, semanticPermitOnPerm:
		return sem, nil
	default:
		return "", badRequest("options.evaluations_semantic: %q is not one of execute_all, deny_on_first_deny, permit_on_first_permit", sem)
	}
}

// evaluateAll answers the items of a batch in order under q, stopping as
// the semantic says. A malformed item answers a deny carrying its error.
//
// Items under the same context (and without properties, which would make
// their contexts differ) are answered together by one AuthorizeBatch:
// one evaluation whose tables (a subject's roles, a rule's answers) serve
// every item after the one that built them. The answers, their order, each
// item's error and what is recorded are those of asking the items one by
// one.
func (s *Server) evaluateAll(q *question, req azEvaluationsRequest, semantic string) ([]azDecision, error) {
	n := len(req.Evaluations)
	items := make([]azTuple, n)
	preps := make([]azPrepared, n)
	errs := make([]error, n)
	// Items are checked ahead, to be batched, only when that has no effect
	// of its own: not those whose context carries an on_behalf_of token
	// (verifying it may record a failure), which are checked in turn.
	prepared := make([]bool, n)
	for i, item := range req.Evaluations {
		items[i] = item.withDefaults(req.azTuple)
		if c := items[i].Context; c == nil || c.OnBehalfOf == "" {
			preps[i], errs[i] = s.prepare(q, items[i])
			prepared[i] = true
		}
	}
	// batched[i]: item i was answered in a batch, results[i] is its answer.
	var batched []bool
	var results []evaluator.CheckResult
	if !q.req.Explain {
		batched, results = s.evaluateBatches(q, items, preps, errs, prepared)
	}
	out := make([]azDecision, 0, n)
	for i := range items {
		if !prepared[i] {
			preps[i], errs[i] = s.prepare(q, items[i])
		}
		var d azDecision
		err := errs[i]
		if err == nil {
			p := preps[i]
			var dec evaluator.Decision
			if batched != nil && batched[i] {
				dec.Allowed, err = results[i].Allowed, results[i].Err
			} else {
				dec, err = q.policy.Evaluator().Authorize(q.ctx, p.req, p.c.actor, p.c.action, p.c.resource)
			}
			if err == nil {
				d = s.decided(q, p, dec)
			}
		}
		if err != nil {
			ae := toAPIError(err)
			if ae.Status >= 500 {
				return nil, err
			}
			d = azDecision{Context: map[string]any{"error": map[string]any{"status": ae.Status, "message": ae.Message}}}
		}
		out = append(out, d)
		if (semantic == semanticDenyOnDeny && !d.Decision) || (semantic == semanticPermitOnPerm && d.Decision) {
			break
		}
	}
	return out, nil
}

// evaluateBatches answers the prepared items (those checked without an
// error) that have no properties, one AuthorizeBatch per context they
// share. batched[i] says whether item i was answered, results[i] its
// answer or its own error.
func (s *Server) evaluateBatches(q *question, items []azTuple, preps []azPrepared, errs []error, prepared []bool) (batched []bool, results []evaluator.CheckResult) {
	n := len(items)
	batched = make([]bool, n)
	// The batched items in groups of one context each, a group's items in
	// request order: a counting sort by the group of each item.
	group := make([]int, n)
	var contexts []*azContext // in order of first appearance
	var counts []int
	var numbers map[*azContext]int // made when a second context appears
	for i, t := range items {
		if !prepared[i] || errs[i] != nil || len(t.Subject.Properties) > 0 || len(t.Action.Properties) > 0 || len(t.Resource.Properties) > 0 {
			continue
		}
		batched[i] = true
		g := -1
		switch {
		case len(contexts) > 0 && contexts[0] == t.Context:
			g = 0
		case numbers != nil:
			if k, ok := numbers[t.Context]; ok {
				g = k
			}
		}
		if g < 0 {
			g = len(contexts)
			contexts, counts = append(contexts, t.Context), append(counts, 0)
			if g == 1 {
				numbers = map[*azContext]int{contexts[0]: 0}
			}
			if numbers != nil {
				numbers[t.Context] = g
			}
		}
		group[i] = g
		counts[g]++
	}
	start := make([]int, len(contexts)+1)
	for g, c := range counts {
		start[g+1] = start[g] + c
	}
	idx := make([]int, start[len(contexts)])
	checks := make([]evaluator.Check, len(idx))
	next := slices.Clone(start[:len(contexts)])
	for i := range items {
		if batched[i] {
			k := next[group[i]]
			next[group[i]]++
			idx[k] = i
			p := preps[i].c
			checks[k] = evaluator.Check{Actor: p.actor, Action: p.action, Resource: p.resource}
		}
	}
	results = make([]evaluator.CheckResult, n)
	for g := range contexts {
		// The items of a group have the same context, so the same request.
		from, to := start[g], start[g+1]
		for j, r := range q.policy.Evaluator().AuthorizeBatch(q.ctx, preps[idx[from]].req, checks[from:to]) {
			results[idx[from+j]] = r
		}
	}
	return batched, results
}

func (s *Server) handleEvaluations(w http.ResponseWriter, r *http.Request) {
	var req azEvaluationsRequest
	if err := decodeEvaluations(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	semantic, err := req.semantic()
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(req.Evaluations) > s.cfg.MaxBatchFacts {
		writeError(w, r, errorf(http.StatusBadRequest, codeLimitExceeded, "evaluations: %d evaluations exceed the limit of %d (--max-batch-facts)", len(req.Evaluations), s.cfg.MaxBatchFacts))
		return
	}
	s.answer(w, r, questionIn{}, explainParam(r), func(q *question) (any, error) {
		if len(req.Evaluations) == 0 {
			return s.evaluate(q, req.azTuple)
		}
		ds, err := s.evaluateAll(q, req, semantic)
		if err != nil {
			return nil, err
		}
		return struct {
			Evaluations []azDecision `json:"evaluations"`
		}{ds}, nil
	})
}

type azPage struct {
	Token *string `json:"token"`
	Limit *int    `json:"limit"`
}

type azSearchRequest struct {
	azTuple
	Page *azPage `json:"page"`
}

type azPageOut struct {
	NextToken string `json:"next_token"`
}

type azSearchResponse[T any] struct {
	Page    azPageOut `json:"page"`
	Results []T       `json:"results"`
}

type azEntityOut struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type azActionOut struct {
	Name string `json:"name"`
}

// searchPage validates the page of a search request.
func (s *Server) searchPage(p *azPage) (evaluator.Page, error) {
	if p == nil {
		return evaluator.Page{}, nil
	}
	return s.page(p.Limit, p.Token, "page.limit")
}

// paginate pages a sorted list of names with an opaque cursor: the token
// is the last name of the page, so later pages stay stable when names are
// added before the cursor.
func paginate(names []string, p evaluator.Page) ([]string, string, error) {
	if p.Token != "" {
		last, err := base64.RawURLEncoding.DecodeString(p.Token)
		if err != nil {
			return nil, "", badRequest("page.token: %q is not a page token from this server", p.Token)
		}
		i := sort.SearchStrings(names, string(last))
		if i < len(names) && names[i] == string(last) {
			i++
		}
		names = names[i:]
	}
	if p.Size == 0 || len(names) <= p.Size {
		return names, "", nil
	}
	names = names[:p.Size]
	return names, base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1])), nil
}

// searchSubjects answers a subject search under q: the distinct ids of
// the subjects of type typ for which allow(subject, action, resource)
// holds, sorted; "anyone" answers name no one and are left out.
func (s *Server) searchSubjects(q *question, typ string, c azCheck) ([]string, error) {
	rows, err := q.policy.Evaluator().Query(q.ctx, q.req, evaluator.Query{
		Predicate: evaluator.Call{Name: "allow", Args: []string{"subject", "action", "resource"}},
		Constraints: map[string]evaluator.Constraint{
			"subject":  {Type: typ},
			"action":   {Type: term.TypeString, IDs: []string{c.action}},
			"resource": {Type: c.resource.Type, IDs: []string{c.resource.ID}},
		},
	})
	if err != nil {
		return nil, err
	}
	return distinctIDs(rows, "subject"), nil
}

func (s *Server) handleSearchSubject(w http.ResponseWriter, r *http.Request) {
	serveSearch(s, w, r, func(t *azTuple) (err error) {
		t.Subject, err = openEntity(t.Subject, "subject")
		return err
	}, func(q *question, t azTuple, c azCheck, page evaluator.Page) ([]azEntityOut, string, error) {
		ids, err := s.searchSubjects(q, *t.Subject.Type, c)
		if err != nil {
			return nil, "", err
		}
		ids, next, err := paginate(ids, page)
		if err != nil {
			return nil, "", err
		}
		return entities(*t.Subject.Type, ids), next, nil
	})
}

// serveSearch is what the AuthZEN searches share: it decodes the request,
// leaves open the part it searches for (leaveOpen replaces it in a copy of
// the request with a placeholder, or says why it cannot) so that the rest is
// checked as an evaluation would be, validates the page and answers with
// the page of results find returns under the request's question.
func serveSearch[T any](s *Server, w http.ResponseWriter, r *http.Request,
	leaveOpen func(t *azTuple) error,
	find func(q *question, t azTuple, c azCheck, page evaluator.Page) (results []T, next string, err error)) {
	var req azSearchRequest
	if err := decodeJSONLenient(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	probe := req.azTuple
	if err := leaveOpen(&probe); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := probe.check()
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.searchPage(req.Page)
	if err != nil {
		writeError(w, r, err)
		return
	}
	in, err := req.questionIn()
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answer(w, r, in, false, func(q *question) (any, error) {
		if req.Context != nil && req.Context.OnBehalfOf != "" {
			// The user of context.on_behalf_of replaces the header's, as in
			// an evaluation: the verified facts are the end of the context.
			verified, err := s.onBehalfOfContext(q, req.Context.OnBehalfOf)
			if err != nil {
				return nil, err
			}
			base := q.req.Context[:len(q.req.Context)-len(q.verified)]
			q.req.Context = append(base[:len(base):len(base)], verified...)
			q.verified = verified
		}
		results, next, err := find(q, req.azTuple, c, page)
		if err != nil {
			return nil, err
		}
		s.record(q, audit.Record{Actor: auditValue(c.actor), Action: c.action, Resource: auditValue(c.resource), Count: s.auditCount(len(results))})
		return azSearchResponse[T]{Page: azPageOut{NextToken: next}, Results: results}, nil
	})
}

// openEntity returns a placeholder for e, the entity a search is for: an
// entity of its type; where names it in errors.
func openEntity(e *azEntity, where string) (*azEntity, error) {
	if e == nil || e.Type == nil || *e.Type == "" {
		return nil, badRequest("%s.type is required", where)
	}
	return &azEntity{Type: e.Type, ID: new("_")}, nil
}

// entities returns the entities of type typ with ids.
func entities(typ string, ids []string) []azEntityOut {
	out := make([]azEntityOut, len(ids))
	for i, id := range ids {
		out[i] = azEntityOut{Type: typ, ID: id}
	}
	return out
}

// distinctIDs returns the sorted distinct values of v in rows; wildcard
// answers ("any subject") are left out, as they name no one.
func distinctIDs(rows []evaluator.Row, v string) []string {
	seen := make(map[string]bool, len(rows))
	ids := make([]string, 0, len(rows))
	for _, row := range rows {
		if id := row[v]; id != nil && !seen[*id] {
			seen[*id] = true
			ids = append(ids, *id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (s *Server) handleSearchResource(w http.ResponseWriter, r *http.Request) {
	serveSearch(s, w, r, func(t *azTuple) (err error) {
		t.Resource, err = openEntity(t.Resource, "resource")
		return err
	}, func(q *question, t azTuple, c azCheck, page evaluator.Page) ([]azEntityOut, string, error) {
		if err := s.pinPage(q, page.Token); err != nil {
			return nil, "", err
		}
		page.Cursors = s.cursors
		res, err := q.policy.Evaluator().List(q.ctx, q.req, c.actor, c.action, *t.Resource.Type, page)
		if err != nil {
			return nil, "", err
		}
		return entities(*t.Resource.Type, res.IDs), res.NextToken, nil
	})
}

func (s *Server) handleSearchAction(w http.ResponseWriter, r *http.Request) {
	serveSearch(s, w, r, func(t *azTuple) error {
		t.Action = &azAction{Name: new("_")}
		return nil
	}, func(q *question, _ azTuple, c azCheck, page evaluator.Page) ([]azActionOut, string, error) {
		acts, err := q.policy.Evaluator().Actions(q.ctx, q.req, c.actor, c.resource)
		if err != nil {
			return nil, "", err
		}
		sort.Strings(acts)
		acts, next, err := paginate(acts, page)
		if err != nil {
			return nil, "", err
		}
		out := make([]azActionOut, len(acts))
		for i, a := range acts {
			out[i] = azActionOut{Name: a}
		}
		return out, next, nil
	})
}

// authzenConfig is the AuthZEN discovery document.
type authzenConfig struct {
	PolicyDecisionPoint       string `json:"policy_decision_point"`
	AccessEvaluationEndpoint  string `json:"access_evaluation_endpoint"`
	AccessEvaluationsEndpoint string `json:"access_evaluations_endpoint"`
	SearchSubjectEndpoint     string `json:"search_subject_endpoint"`
	SearchResourceEndpoint    string `json:"search_resource_endpoint"`
	SearchActionEndpoint      string `json:"search_action_endpoint"`
}

func (s *Server) handleAuthzenConfig(w http.ResponseWriter, r *http.Request) {
	base := s.publicURL(r)
	writeJSON(w, http.StatusOK, authzenConfig{
		PolicyDecisionPoint:       base,
		AccessEvaluationEndpoint:  base + "/access/v1/evaluation",
		AccessEvaluationsEndpoint: base + "/access/v1/evaluations",
		SearchSubjectEndpoint:     base + "/access/v1/search/subject",
		SearchResourceEndpoint:    base + "/access/v1/search/resource",
		SearchActionEndpoint:      base + "/access/v1/search/action",
	})
}

// publicURL is the base URL the AuthZEN metadata advertises: PublicURL
// when configured; else, for a request through a trusted proxy, the
// X-Forwarded-Host (or Host) and X-Forwarded-Proto it forwarded; else the address of the listener
// that took the connection. An untrusted caller's Host or
// X-Forwarded-Proto is never echoed: the document would send other
// clients wherever it says.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if s.proxies.peerTrusted(r) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			scheme = p
		}
		host := r.Host
		if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/?#@ ,") {
			host = h
		}
		return scheme + "://" + host
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return scheme + "://" + a.String()
	}
	return "" // no listener (a handler called directly): relative URLs
}
