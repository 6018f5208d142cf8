package castellan

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Local authorization: the server answers a question with SQL that the
// application runs on its own database, where the facts its data bindings
// describe live. The data bindings are the text of the YAML file (facts:
// signatures with their SQL, and sql_types), sent with every call as the
// Oso SDKs send it.

// LocalResult is the SQL a local-authorization call returns.
type LocalResult struct {
	// SQL is the PostgreSQL text to run on the application's database.
	SQL string
	// RequestID is the server's X-Request-ID of the answer; an
	// AuthorizeLocal request id may be sent to /api/expect (parity).
	RequestID string
}

type localRequest struct {
	Query        any        `json:"query"`
	DataBindings string     `json:"data_bindings"`
	Column       string     `json:"column,omitempty"`
	Mode         *localMode `json:"mode,omitempty"`
}

type localMode struct {
	Mode          string            `json:"mode"`
	Columns       map[string]string `json:"query_vars_to_output_column_names,omitempty"`
	OutputColumn  string            `json:"output_column_name,omitempty"`
	QueryVariable string            `json:"query_var,omitempty"`
}

// AuthorizeLocal returns a query giving one row with the boolean column
// allowed: whether actor may do action on resource, given the stored
// facts, the context facts and the application's rows that bindings
// describe (POST /api/authorize_query).
func (c *Client) AuthorizeLocal(ctx context.Context, bindings string, actor Value, action string, resource Value, opts ...CheckOption) (LocalResult, error) {
	o, cf, err := resourceQuestion(actor, resource, opts)
	if err != nil {
		return LocalResult{}, err
	}
	return c.local(ctx, "/api/authorize_query", bindings, localRequest{Query: authorizeRequest{
		ActorType: actor.Type, ActorID: actor.ID, Action: action,
		ResourceType: resource.Type, ResourceID: resource.ID, ContextFacts: cf, Attributes: o.attrs,
	}})
}

// ListLocal returns a boolean SQL condition on column (such as issues.id,
// pasted into the SQL as given), true for the rows of resourceType on
// which actor may do action (POST /api/list_query).
func (c *Client) ListLocal(ctx context.Context, bindings string, actor Value, action, resourceType, column string, opts ...CheckOption) (LocalResult, error) {
	if err := checkValue("actor", actor); err != nil {
		return LocalResult{}, err
	}
	if resourceType == "" {
		return LocalResult{}, errors.New("list: resource type is empty")
	}
	if strings.TrimSpace(column) == "" {
		return LocalResult{}, errors.New("list: column is empty")
	}
	o, cf, _, err := applyCheckOptions(opts)
	if err != nil {
		return LocalResult{}, err
	}
	return c.local(ctx, "/api/list_query", bindings, localRequest{Column: column, Query: listRequest{
		ActorType: actor.Type, ActorID: actor.ID, Action: action, ResourceType: resourceType, ContextFacts: cf, Attributes: o.attrs,
	}})
}

// ActionsLocal returns a query giving one row per action actor may do on
// resource, in the text column actions (POST /api/actions_query).
func (c *Client) ActionsLocal(ctx context.Context, bindings string, actor, resource Value, opts ...CheckOption) (LocalResult, error) {
	o, cf, err := resourceQuestion(actor, resource, opts)
	if err != nil {
		return LocalResult{}, err
	}
	return c.local(ctx, "/api/actions_query", bindings, localRequest{Query: actionsRequest{
		ActorType: actor.Type, ActorID: actor.ID, ResourceType: resource.Type, ResourceID: resource.ID, ContextFacts: cf, Attributes: o.attrs,
	}})
}

// EvaluateLocalSelect returns a query giving one row per answer of q,
// with the variable named by each key of columns in the column it maps to
// (POST /api/evaluate_query_local, mode select). With no columns the query
// gives one row with the boolean column result.
func (c *Client) EvaluateLocalSelect(ctx context.Context, bindings string, q Query, columns map[string]string, opts ...CheckOption) (LocalResult, error) {
	if columns == nil {
		columns = map[string]string{}
	}
	return c.evaluateLocal(ctx, bindings, q, &localMode{Mode: "select", Columns: columns}, opts)
}

// EvaluateLocalFilter returns a boolean SQL condition on column, true for
// the rows whose column holds a value variable may take in an answer of q
// (POST /api/evaluate_query_local, mode filter).
func (c *Client) EvaluateLocalFilter(ctx context.Context, bindings string, q Query, column, variable string, opts ...CheckOption) (LocalResult, error) {
	return c.evaluateLocal(ctx, bindings, q, &localMode{Mode: "filter", OutputColumn: column, QueryVariable: variable}, opts)
}

func (c *Client) evaluateLocal(ctx context.Context, bindings string, q Query, mode *localMode, opts []CheckOption) (LocalResult, error) {
	if q.Predicate.Name == "" {
		return LocalResult{}, errors.New("query has no predicate")
	}
	o, cf, _, err := applyCheckOptions(opts)
	if err != nil {
		return LocalResult{}, err
	}
	if q.Calls == nil {
		q.Calls = []Call{}
	}
	if q.Constraints == nil {
		q.Constraints = map[string]Constraint{}
	}
	return c.local(ctx, "/api/evaluate_query_local", bindings, localRequest{Mode: mode, Query: evaluateQueryRequest{Query: q, ContextFacts: cf, Attributes: o.attrs}})
}

// resourceQuestion checks the actor and resource of a question about one
// resource and returns its options and context facts.
func resourceQuestion(actor, resource Value, opts []CheckOption) (checkOptions, []Fact, error) {
	if err := errors.Join(checkValue("actor", actor), checkValue("resource", resource)); err != nil {
		return checkOptions{}, nil, err
	}
	o, cf, _, err := applyCheckOptions(opts)
	return o, cf, err
}

// local sends one local-authorization request and returns its SQL.
func (c *Client) local(ctx context.Context, path, bindings string, body localRequest) (LocalResult, error) {
	if strings.TrimSpace(bindings) == "" {
		return LocalResult{}, errors.New("data bindings are empty: pass the contents of the data-bindings YAML file")
	}
	body.DataBindings = bindings
	var out struct {
		SQL string `json:"sql"`
	}
	resp, err := c.do(ctx, call{method: http.MethodPost, path: path, body: body}, &out)
	if err != nil {
		return LocalResult{}, err
	}
	return LocalResult{SQL: out.SQL, RequestID: resp.header.Get("X-Request-ID")}, nil
}
