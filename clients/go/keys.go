package castellan

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Scopes of API keys: read asks questions, write also changes facts, admin
// also manages the policy and keys.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	ScopeAdmin = "admin"
)

// APIKey describes an API key; the secret itself is shown only once, by
// CreateKey.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scope     string    `json:"scope"`
	CreatedAt time.Time `json:"created_at"`
	// Caller is the caller identity the key is bound to ("Type:id"), empty
	// when none.
	Caller string `json:"caller,omitempty"`
}

// NewKey is a key just created, with its secret.
type NewKey struct {
	APIKey
	// Secret is the key to send as a bearer token. The server does not keep
	// it and cannot show it again.
	Secret string `json:"key"`
}

// CreateKey creates an API key with a name and a scope (ScopeRead,
// ScopeWrite or ScopeAdmin) (POST /admin/v1/keys).
func (c *Client) CreateKey(ctx context.Context, name, scope string) (NewKey, error) {
	return c.CreateCallerKey(ctx, name, scope, "")
}

// CreateCallerKey creates an API key bound to a caller identity, "Type:id"
// (e.g. "Service:billing"): the requests made with it carry the verified
// fact request_caller(Service{"billing"}). An empty caller binds none.
func (c *Client) CreateCallerKey(ctx context.Context, name, scope, caller string) (NewKey, error) {
	body := struct {
		Name   string `json:"name"`
		Scope  string `json:"scope"`
		Caller string `json:"caller,omitempty"`
	}{name, scope, caller}
	var out NewKey
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/admin/v1/keys", body: body}, &out)
	return out, err
}

// ListKeys lists the API keys, without their secrets (GET /admin/v1/keys).
func (c *Client) ListKeys(ctx context.Context) ([]APIKey, error) {
	var out struct {
		Keys []APIKey `json:"keys"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/admin/v1/keys"}, &out)
	return out.Keys, err
}

// DeleteKey revokes the API key with the given id (DELETE /admin/v1/keys/{id}).
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: "/admin/v1/keys/" + url.PathEscape(id)}, nil)
	return err
}
