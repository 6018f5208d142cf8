package castellan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CheckOption adjusts one question (Authorize, Actions, List, EvaluateQuery).
type CheckOption func(*checkOptions)

type checkOptions struct {
	context []Fact
	attrs   []attributes
	explain bool
}

// attributes is one item of a question's "attributes": the properties of
// an entity, or of the request when Entity is nil.
type attributes struct {
	Entity     *Value         `json:"entity,omitempty"`
	Properties map[string]any `json:"properties"`
}

// WithAttributes sends properties of entity with the question: the server
// turns each into a fact for this question only,
// has_attribute(entity, "name", value) (a string is a String, a whole
// number an Integer, a bool a Boolean; a slice gives one fact per element,
// a nested map dotted names; see docs/api.md, Attributes). Properties the
// policy cannot use are left out. Authorize, AuthorizeResources, Actions,
// List, ListPage, ListAll, EvaluateQuery, Query and the local questions
// send them; the AuthZEN calls refuse them (AuthZEN carries properties in
// its own fields).
func WithAttributes(entity Value, properties map[string]any) CheckOption {
	return func(o *checkOptions) { o.attrs = append(o.attrs, attributes{Entity: &entity, Properties: properties}) }
}

// WithContextAttributes is WithAttributes for the request itself: each
// property becomes has_context("name", value).
func WithContextAttributes(properties map[string]any) CheckOption {
	return func(o *checkOptions) { o.attrs = append(o.attrs, attributes{Properties: properties}) }
}

// errAttributesAuthZEN is the error of WithAttributes on an AuthZEN call.
var errAttributesAuthZEN = errors.New("WithAttributes: AuthZEN requests carry no attributes; send properties with the subject and resource, or ask through Authorize")

// WithContextFacts sends facts with the question. They are used for this
// question only and never stored. Options add up: several WithContextFacts
// send all their facts.
func WithContextFacts(facts ...Fact) CheckOption {
	return func(o *checkOptions) { o.context = append(o.context, facts...) }
}

// WithExplain asks the server for the derivation of the answer (sent as
// ?explain=true). Authorize, Evaluation and Evaluations return it in
// Decision.Explanation and ListPage in ListResult.Explanation; other
// questions ignore it.
func WithExplain() CheckOption {
	return func(o *checkOptions) { o.explain = true }
}

func applyCheckOptions(opts []CheckOption) (checkOptions, []Fact, url.Values, error) {
	var o checkOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkFacts(o.context); err != nil {
		return o, nil, nil, fmt.Errorf("context fact: %w", err)
	}
	for _, a := range o.attrs {
		if a.Entity != nil {
			if err := checkValue("attributes entity", *a.Entity); err != nil {
				return o, nil, nil, err
			}
		}
	}
	var q url.Values
	if o.explain {
		q = url.Values{"explain": {"true"}}
	}
	return o, orEmpty(o.context), q, nil
}

func checkValue(what string, v Value) error {
	if v.IsWildcard() {
		return fmt.Errorf("%s %s is not concrete", what, v)
	}
	return nil
}

// checkActorResources checks that actor and every one of resources are
// concrete.
func checkActorResources(actor Value, resources []Value) error {
	errs := []error{checkValue("actor", actor)}
	for i, r := range resources {
		errs = append(errs, checkValue(fmt.Sprintf("resource %d", i+1), r))
	}
	return errors.Join(errs...)
}

// Decision is the answer to Authorize and to an AuthZEN Evaluation.
type Decision struct {
	// Allowed is true when the policy allows the action.
	Allowed bool
	// Explanation is the server's derivation of the answer; only set when
	// WithExplain was given.
	Explanation *Explanation
}

type authorizeRequest struct {
	ActorType    string       `json:"actor_type"`
	ActorID      string       `json:"actor_id"`
	Action       string       `json:"action"`
	ResourceType string       `json:"resource_type"`
	ResourceID   string       `json:"resource_id"`
	ContextFacts []Fact       `json:"context_facts"`
	Attributes   []attributes `json:"attributes,omitempty"`
}

// Authorize asks whether actor may do action on resource
// (POST /api/authorize, which evaluates allow(actor, action, resource)).
func (c *Client) Authorize(ctx context.Context, actor Value, action string, resource Value, opts ...CheckOption) (Decision, error) {
	if err := errors.Join(checkValue("actor", actor), checkValue("resource", resource)); err != nil {
		return Decision{}, err
	}
	o, cf, q, err := applyCheckOptions(opts)
	if err != nil {
		return Decision{}, err
	}
	body := authorizeRequest{
		ActorType: actor.Type, ActorID: actor.ID, Action: action,
		ResourceType: resource.Type, ResourceID: resource.ID, ContextFacts: cf, Attributes: o.attrs,
	}
	var out struct {
		Allowed     bool         `json:"allowed"`
		Explanation *Explanation `json:"explanation"`
	}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/authorize", query: q, body: body}, &out); err != nil {
		return Decision{}, err
	}
	return Decision{Allowed: out.Allowed, Explanation: out.Explanation}, nil
}

type authorizeResourcesRequest struct {
	ActorType    string       `json:"actor_type"`
	ActorID      string       `json:"actor_id"`
	Action       string       `json:"action"`
	Resources    []Value      `json:"resources"`
	ContextFacts []Fact       `json:"context_facts"`
	Attributes   []attributes `json:"attributes,omitempty"`
}

// AuthorizeResources returns the resources, among resources, on which actor
// may do action (POST /api/authorize_resources): one question for many
// resources. The result keeps the order of resources, duplicates included.
func (c *Client) AuthorizeResources(ctx context.Context, actor Value, action string, resources []Value, opts ...CheckOption) ([]Value, error) {
	if err := checkActorResources(actor, resources); err != nil {
		return nil, err
	}
	o, cf, q, err := applyCheckOptions(opts)
	if err != nil {
		return nil, err
	}
	if resources == nil {
		resources = []Value{}
	}
	body := authorizeResourcesRequest{ActorType: actor.Type, ActorID: actor.ID, Action: action, Resources: resources, ContextFacts: cf, Attributes: o.attrs}
	var out struct {
		Results []Value `json:"results"`
	}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/authorize_resources", query: q, body: body}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

type actionsRequest struct {
	ActorType    string       `json:"actor_type"`
	ActorID      string       `json:"actor_id"`
	ResourceType string       `json:"resource_type"`
	ResourceID   string       `json:"resource_id"`
	ContextFacts []Fact       `json:"context_facts"`
	Attributes   []attributes `json:"attributes,omitempty"`
}

// Actions returns the actions actor may do on resource (POST /api/actions).
func (c *Client) Actions(ctx context.Context, actor, resource Value, opts ...CheckOption) ([]string, error) {
	if err := errors.Join(checkValue("actor", actor), checkValue("resource", resource)); err != nil {
		return nil, err
	}
	o, cf, q, err := applyCheckOptions(opts)
	if err != nil {
		return nil, err
	}
	body := actionsRequest{
		ActorType: actor.Type, ActorID: actor.ID,
		ResourceType: resource.Type, ResourceID: resource.ID, ContextFacts: cf, Attributes: o.attrs,
	}
	var out struct {
		Results []string `json:"results"`
	}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/actions", query: q, body: body}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// BulkActions returns, for each of resources, the actions actor may do on
// it (POST /api/bulk_actions): Actions for many resources in one request.
// The context facts apply to every resource (they are sent once, with the
// first).
func (c *Client) BulkActions(ctx context.Context, actor Value, resources []Value, opts ...CheckOption) ([][]string, error) {
	if err := checkActorResources(actor, resources); err != nil {
		return nil, err
	}
	o, cf, q, err := applyCheckOptions(opts)
	if err != nil {
		return nil, err
	}
	body := make([]actionsRequest, len(resources))
	for i, r := range resources {
		body[i] = actionsRequest{ActorType: actor.Type, ActorID: actor.ID, ResourceType: r.Type, ResourceID: r.ID, ContextFacts: []Fact{}}
	}
	if len(body) > 0 {
		body[0].ContextFacts, body[0].Attributes = cf, o.attrs
	}
	var out []struct {
		Results []string `json:"results"`
	}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/bulk_actions", query: q, body: body}, &out); err != nil {
		return nil, err
	}
	if len(out) != len(resources) {
		return nil, fmt.Errorf("castellan: bulk_actions answered %d results for %d resources", len(out), len(resources))
	}
	acts := make([][]string, len(out))
	for i, o := range out {
		acts[i] = o.Results
	}
	return acts, nil
}

type listRequest struct {
	ActorType    string       `json:"actor_type"`
	ActorID      string       `json:"actor_id"`
	Action       string       `json:"action"`
	ResourceType string       `json:"resource_type"`
	ContextFacts []Fact       `json:"context_facts"`
	Attributes   []attributes `json:"attributes,omitempty"`
	PageSize     int          `json:"page_size,omitempty"`
	PageToken    string       `json:"page_token,omitempty"`
}

// ListResult is one page of List results.
type ListResult struct {
	// Results are the ids of the resources of the asked type.
	Results []string
	// NextPageToken asks for the next page; empty on the last page.
	NextPageToken string
	// Explanation is the server's derivation for each id of Results (with
	// WithExplain only).
	Explanation map[string]*Explanation
}

// List returns the ids of the resources of resourceType on which actor may
// do action (POST /api/list), in one request without pagination fields, as
// the Oso Go SDK sends it. Use ListAll for very large results.
func (c *Client) List(ctx context.Context, actor Value, action, resourceType string, opts ...CheckOption) ([]string, error) {
	r, err := c.list(ctx, actor, action, resourceType, 0, "", opts)
	return r.Results, err
}

// ListPage returns one page of at most pageSize ids (the server may raise a
// small page size to its minimum), starting at pageToken ("" for the first
// page). A 409 answer (page not ready) is retried after its Retry-After.
func (c *Client) ListPage(ctx context.Context, actor Value, action, resourceType string, pageSize int, pageToken string, opts ...CheckOption) (ListResult, error) {
	if pageSize <= 0 {
		return ListResult{}, fmt.Errorf("list: page size %d must be positive", pageSize)
	}
	return c.list(ctx, actor, action, resourceType, pageSize, pageToken, opts)
}

// ListAll returns every id, asking for pages of pageSize and following
// next_page_token until the last page.
func (c *Client) ListAll(ctx context.Context, actor Value, action, resourceType string, pageSize int, opts ...CheckOption) ([]string, error) {
	var all []string
	token := ""
	seen := map[string]bool{}
	for {
		r, err := c.ListPage(ctx, actor, action, resourceType, pageSize, token, opts...)
		if err != nil {
			return nil, err
		}
		all = append(all, r.Results...)
		if r.NextPageToken == "" {
			return all, nil
		}
		if seen[r.NextPageToken] {
			return nil, fmt.Errorf("list: server returned page token %q twice", r.NextPageToken)
		}
		seen[r.NextPageToken] = true
		token = r.NextPageToken
	}
}

// maxNotReadyRetries bounds the retries of a list page answered 409.
const maxNotReadyRetries = 10

func (c *Client) list(ctx context.Context, actor Value, action, resourceType string, pageSize int, pageToken string, opts []CheckOption) (ListResult, error) {
	if err := checkValue("actor", actor); err != nil {
		return ListResult{}, err
	}
	if resourceType == "" {
		return ListResult{}, errors.New("list: resource type is empty")
	}
	o, cf, q, err := applyCheckOptions(opts)
	if err != nil {
		return ListResult{}, err
	}
	body := listRequest{
		ActorType: actor.Type, ActorID: actor.ID, Action: action, ResourceType: resourceType,
		ContextFacts: cf, Attributes: o.attrs, PageSize: pageSize, PageToken: pageToken,
	}
	var out struct {
		Results       []string                `json:"results"`
		NextPageToken *string                 `json:"next_page_token"`
		Explanation   map[string]*Explanation `json:"explanation"`
	}
	for attempt := 0; ; attempt++ {
		_, err = c.do(ctx, call{method: http.MethodPost, path: "/api/list", query: q, body: body}, &out)
		var ce *Error
		if err == nil || !errors.As(err, &ce) || ce.StatusCode != http.StatusConflict || attempt >= maxNotReadyRetries {
			break
		}
		if werr := sleepCtx(ctx, ce.retryAfter); werr != nil {
			return ListResult{}, werr
		}
	}
	if err != nil {
		return ListResult{}, err
	}
	r := ListResult{Results: out.Results, Explanation: out.Explanation}
	if out.NextPageToken != nil {
		r.NextPageToken = *out.NextPageToken
	}
	return r, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// parseRetryAfter reads a Retry-After header in seconds, bounded to
// [10ms, 5s]; the default is 250ms.
func parseRetryAfter(h string) time.Duration {
	d := 250 * time.Millisecond
	if s, err := strconv.Atoi(h); err == nil {
		d = time.Duration(s) * time.Second
	}
	return min(max(d, 10*time.Millisecond), 5*time.Second)
}

type evaluateQueryRequest struct {
	Query
	ContextFacts []Fact       `json:"context_facts"`
	Attributes   []attributes `json:"attributes,omitempty"`
}

// EvaluateQuery runs a query-builder query (POST /api/evaluate_query). Each
// result row maps every variable to its id, or to nil when any value works
// (a wildcard solution, which the Oso SDKs show as "*").
func (c *Client) EvaluateQuery(ctx context.Context, q Query, opts ...CheckOption) ([]map[string]*string, error) {
	if q.Predicate.Name == "" {
		return nil, errors.New("query has no predicate")
	}
	o, cf, qs, err := applyCheckOptions(opts)
	if err != nil {
		return nil, err
	}
	if q.Calls == nil {
		q.Calls = []Call{}
	}
	if q.Constraints == nil {
		q.Constraints = map[string]Constraint{}
	}
	var out struct {
		Results []map[string]*string `json:"results"`
	}
	body := evaluateQueryRequest{Query: q, ContextFacts: cf, Attributes: o.attrs}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/evaluate_query", query: qs, body: body}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// ResourceMetadata describes one block of the live policy.
type ResourceMetadata struct {
	Roles       []string          `json:"roles"`
	Permissions []string          `json:"permissions"`
	Relations   map[string]string `json:"relations"`
}

// PolicyMetadata describes the live policy: for each declared block (and
// "global"), its roles, permissions and relations.
type PolicyMetadata struct {
	Resources map[string]ResourceMetadata `json:"resources"`
}

// PolicyMetadata returns the metadata of the live policy
// (GET /api/policy_metadata).
func (c *Client) PolicyMetadata(ctx context.Context) (PolicyMetadata, error) {
	var out struct {
		Metadata PolicyMetadata `json:"metadata"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/policy_metadata"}, &out)
	return out.Metadata, err
}

type queryV1Request struct {
	Fact         wirePattern  `json:"fact"`
	ContextFacts []Fact       `json:"context_facts"`
	Attributes   []attributes `json:"attributes,omitempty"`
}

// Query returns the facts, stored or derived by the policy's rules, that
// match pattern (POST /api/query, the Oso query API v1): wildcard arguments
// are variables, and only rules of the pattern's arity are considered.
// AnyOf("User") is a variable of that type, Any() a variable of any type;
// either way each result carries the real type of its arguments. An
// argument that holds for any value comes back as a wildcard: AnyOf(type),
// or Any() when it holds for a value of any type.
func (c *Client) Query(ctx context.Context, pattern Fact, opts ...CheckOption) ([]Fact, error) {
	if pattern.Predicate == "" {
		return nil, errors.New("query has no predicate")
	}
	o, cf, qs, err := applyCheckOptions(opts)
	if err != nil {
		return nil, err
	}
	var out struct {
		Results []Fact `json:"results"`
	}
	body := queryV1Request{Fact: toWirePattern(pattern), ContextFacts: cf, Attributes: o.attrs}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/query", query: qs, body: body}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}
