package castellan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// The AuthZEN 1.0 Authorization API (under /access/v1): the subject is the
// actor, the action a name and the resource a value, as in Authorize. The
// context facts of WithContextFacts travel in the request's context (as
// "context_facts"); no properties are sent (WithAttributes is refused).

// azEntity is an AuthZEN subject or resource; a search leaves the id out.
type azEntity struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

type azAction struct {
	Name string `json:"name"`
}

type azContext struct {
	ContextFacts []Fact `json:"context_facts"`
}

// azRequest is an evaluation, an evaluations batch or a search.
type azRequest struct {
	Subject     *azEntity   `json:"subject,omitempty"`
	Action      *azAction   `json:"action,omitempty"`
	Resource    *azEntity   `json:"resource,omitempty"`
	Context     *azContext  `json:"context,omitempty"`
	Evaluations []azRequest `json:"evaluations,omitempty"`
	Options     *azOptions  `json:"options,omitempty"`
	Page        *azPage     `json:"page,omitempty"`
}

type azOptions struct {
	Semantic Semantic `json:"evaluations_semantic"`
}

type azPage struct {
	Token string `json:"token,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// azDecision is the answer to one evaluation.
type azDecision struct {
	Decision bool `json:"decision"`
	Context  struct {
		Explanation *Explanation `json:"explanation"`
		Error       *struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"context"`
}

func entity(v Value) *azEntity { return &azEntity{Type: v.Type, ID: v.ID} }

// azContextOf returns the AuthZEN context carrying cf, or nil for none.
func azContextOf(cf []Fact) *azContext {
	if len(cf) == 0 {
		return nil
	}
	return &azContext{ContextFacts: cf}
}

// Evaluation asks whether subject may do action on resource through the
// AuthZEN API (POST /access/v1/evaluation). It answers what Authorize
// answers.
func (c *Client) Evaluation(ctx context.Context, subject Value, action string, resource Value, opts ...CheckOption) (Decision, error) {
	if err := errors.Join(checkValue("subject", subject), checkValue("resource", resource)); err != nil {
		return Decision{}, err
	}
	o, cf, q, err := applyCheckOptions(opts)
	if err == nil && len(o.attrs) > 0 {
		err = errAttributesAuthZEN
	}
	if err != nil {
		return Decision{}, err
	}
	body := azRequest{Subject: entity(subject), Action: &azAction{Name: action}, Resource: entity(resource), Context: azContextOf(cf)}
	var out azDecision
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/access/v1/evaluation", query: q, body: body}, &out); err != nil {
		return Decision{}, err
	}
	return Decision{Allowed: out.Decision, Explanation: out.Context.Explanation}, nil
}

// Semantic says how far an Evaluations batch goes.
type Semantic string

// Evaluation semantics.
const (
	// ExecuteAll evaluates every item (the default).
	ExecuteAll Semantic = "execute_all"
	// DenyOnFirstDeny stops after the first item denied.
	DenyOnFirstDeny Semantic = "deny_on_first_deny"
	// PermitOnFirstPermit stops after the first item allowed.
	PermitOnFirstPermit Semantic = "permit_on_first_permit"
)

// AccessRequest is one item of an Evaluations batch.
type AccessRequest struct {
	Subject  Value
	Action   string
	Resource Value
	// ContextFacts, when not empty, are this item's context facts: they
	// replace, for this item, those given to Evaluations by
	// WithContextFacts.
	ContextFacts []Fact
}

// EvaluationResult is the answer to one item of Evaluations.
type EvaluationResult struct {
	Decision
	// Err is set, and Allowed false, when the server could not evaluate the
	// item (a malformed item does not fail the batch): an *Error with the
	// status the server would have answered it alone.
	Err error
}

// Evaluations asks several questions in one request through the AuthZEN
// API (POST /access/v1/evaluations), under one snapshot of the facts. The
// answers come in the order of items; with DenyOnFirstDeny or
// PermitOnFirstPermit the batch stops early and the answers end with the
// one that stopped it. An empty semantic is ExecuteAll. The context facts
// apply to every item.
func (c *Client) Evaluations(ctx context.Context, semantic Semantic, items []AccessRequest, opts ...CheckOption) ([]EvaluationResult, error) {
	if len(items) == 0 {
		return nil, errors.New("evaluations: no items")
	}
	var errs []error
	for i, it := range items {
		errs = append(errs, checkValue(fmt.Sprintf("item %d: subject", i+1), it.Subject), checkValue(fmt.Sprintf("item %d: resource", i+1), it.Resource))
		if err := checkFacts(it.ContextFacts); err != nil {
			errs = append(errs, fmt.Errorf("item %d: %w", i+1, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	o, cf, q, err := applyCheckOptions(opts)
	if err == nil && len(o.attrs) > 0 {
		err = errAttributesAuthZEN
	}
	if err != nil {
		return nil, err
	}
	body := azRequest{Context: azContextOf(cf), Evaluations: make([]azRequest, len(items))}
	if semantic != "" {
		body.Options = &azOptions{Semantic: semantic}
	}
	for i, it := range items {
		body.Evaluations[i] = azRequest{Subject: entity(it.Subject), Action: &azAction{Name: it.Action}, Resource: entity(it.Resource), Context: azContextOf(it.ContextFacts)}
	}
	var out struct {
		Evaluations []azDecision `json:"evaluations"`
	}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/access/v1/evaluations", query: q, body: body}, &out); err != nil {
		return nil, err
	}
	res := make([]EvaluationResult, len(out.Evaluations))
	for i, d := range out.Evaluations {
		res[i].Decision = Decision{Allowed: d.Decision, Explanation: d.Context.Explanation}
		if e := d.Context.Error; e != nil {
			res[i].Err = &Error{StatusCode: e.Status, Message: e.Message}
		}
	}
	return res, nil
}

// SearchPage asks for one page of an AuthZEN search: at most Limit results
// (0 leaves the size to the server) after the page Token names ("" for the
// first page).
type SearchPage struct {
	Token string
	Limit int
}

func (p SearchPage) wire() *azPage {
	if p == (SearchPage{}) {
		return nil
	}
	return &azPage{Token: p.Token, Limit: p.Limit}
}

// searchResponse is a search answer: a page of results and the token of
// the next page ("" on the last).
type searchResponse[T any] struct {
	Page struct {
		NextToken string `json:"next_token"`
	} `json:"page"`
	Results []T `json:"results"`
}

// search sends a search request and returns its results and next token.
func search[T any](ctx context.Context, c *Client, path string, body azRequest, page SearchPage, opts []CheckOption) ([]T, string, error) {
	o, cf, q, err := applyCheckOptions(opts)
	if err == nil && len(o.attrs) > 0 {
		err = errAttributesAuthZEN
	}
	if err != nil {
		return nil, "", err
	}
	body.Context, body.Page = azContextOf(cf), page.wire()
	var out searchResponse[T]
	if _, err := c.do(ctx, call{method: http.MethodPost, path: path, query: q, body: body}, &out); err != nil {
		return nil, "", err
	}
	return out.Results, out.Page.NextToken, nil
}

// SearchSubject returns the subjects of subjectType that may do action on
// resource (POST /access/v1/search/subject), sorted by id, one page at a
// time, with the token of the next page ("" on the last).
func (c *Client) SearchSubject(ctx context.Context, subjectType, action string, resource Value, page SearchPage, opts ...CheckOption) ([]Value, string, error) {
	if subjectType == "" {
		return nil, "", errors.New("search subject: subject type is empty")
	}
	if err := checkValue("resource", resource); err != nil {
		return nil, "", err
	}
	body := azRequest{Subject: &azEntity{Type: subjectType}, Action: &azAction{Name: action}, Resource: entity(resource)}
	return search[Value](ctx, c, "/access/v1/search/subject", body, page, opts)
}

// SearchResource returns the resources of resourceType on which subject may
// do action (POST /access/v1/search/resource), one page at a time, with the
// token of the next page ("" on the last).
func (c *Client) SearchResource(ctx context.Context, subject Value, action, resourceType string, page SearchPage, opts ...CheckOption) ([]Value, string, error) {
	if err := checkValue("subject", subject); err != nil {
		return nil, "", err
	}
	if resourceType == "" {
		return nil, "", errors.New("search resource: resource type is empty")
	}
	body := azRequest{Subject: entity(subject), Action: &azAction{Name: action}, Resource: &azEntity{Type: resourceType}}
	return search[Value](ctx, c, "/access/v1/search/resource", body, page, opts)
}

// SearchAction returns the actions subject may do on resource
// (POST /access/v1/search/action), sorted, one page at a time, with the
// token of the next page ("" on the last).
func (c *Client) SearchAction(ctx context.Context, subject, resource Value, page SearchPage, opts ...CheckOption) ([]string, string, error) {
	if err := errors.Join(checkValue("subject", subject), checkValue("resource", resource)); err != nil {
		return nil, "", err
	}
	body := azRequest{Subject: entity(subject), Resource: entity(resource)}
	acts, next, err := search[azAction](ctx, c, "/access/v1/search/action", body, page, opts)
	names := make([]string, len(acts))
	for i, a := range acts {
		names[i] = a.Name
	}
	return names, next, err
}
