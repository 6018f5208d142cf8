package castellan

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// changeset is one element of a /api/batch body: inserts or deletes.
type changeset struct {
	Inserts []Fact        `json:"inserts,omitempty"`
	Deletes []wirePattern `json:"deletes,omitempty"`
}

// Tx collects the changes of one Batch. Changes apply in the order they
// were added, all or none.
type Tx struct {
	changes []changeset
	err     error
}

// Insert adds fact f; every argument must be concrete.
func (tx *Tx) Insert(f Fact) {
	if err := checkFact(f); err != nil {
		tx.err = errors.Join(tx.err, err)
		return
	}
	if n := len(tx.changes); n > 0 && tx.changes[n-1].Inserts != nil {
		tx.changes[n-1].Inserts = append(tx.changes[n-1].Inserts, cloneFact(f))
		return
	}
	tx.changes = append(tx.changes, changeset{Inserts: []Fact{cloneFact(f)}})
}

// Delete removes every stored fact that matches pattern (wildcard arguments
// match anything; no match is not an error).
func (tx *Tx) Delete(pattern Fact) {
	if pattern.Predicate == "" {
		tx.err = errors.Join(tx.err, errors.New("delete pattern has no predicate"))
		return
	}
	if n := len(tx.changes); n > 0 && tx.changes[n-1].Deletes != nil {
		tx.changes[n-1].Deletes = append(tx.changes[n-1].Deletes, toWirePattern(pattern))
		return
	}
	tx.changes = append(tx.changes, changeset{Deletes: []wirePattern{toWirePattern(pattern)}})
}

// Batch applies the inserts and deletes that fn adds to tx atomically, in
// order (POST /api/batch). Nothing is sent when fn adds nothing.
func (c *Client) Batch(ctx context.Context, fn func(tx *Tx)) error {
	var tx Tx
	fn(&tx)
	if tx.err != nil {
		return tx.err
	}
	if len(tx.changes) == 0 {
		return nil
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/batch", body: tx.changes, write: true}, nil)
	return err
}

// Insert stores fact f.
func (c *Client) Insert(ctx context.Context, f Fact) error {
	return c.Batch(ctx, func(tx *Tx) { tx.Insert(f) })
}

// Delete removes every stored fact matching pattern; wildcard arguments
// (empty Type or ID) match anything. Deleting nothing is not an error.
func (c *Client) Delete(ctx context.Context, pattern Fact) error {
	return c.Batch(ctx, func(tx *Tx) { tx.Delete(pattern) })
}

// Get returns the stored facts matching pattern (GET /api/facts). An empty
// predicate matches any predicate; wildcard arguments match anything, and
// since trailing wildcards are not sent, a pattern matches facts of any
// arity at least as long as its last concrete argument.
func (c *Client) Get(ctx context.Context, pattern Fact) ([]Fact, error) {
	var facts []Fact
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/facts", query: patternQuery(pattern)}, &facts); err != nil {
		return nil, err
	}
	return facts, nil
}

// GetPage returns at most pageSize stored facts matching pattern, from
// the page named by token ("" for the first), and the token of the next
// page ("" after the last): GET /api/facts with Castellan's page_size and
// page_token. A write between two pages may shift the facts after it.
func (c *Client) GetPage(ctx context.Context, pattern Fact, pageSize int, token string) (facts []Fact, next string, err error) {
	q := patternQuery(pattern)
	q.Set("page_size", strconv.Itoa(pageSize))
	if token != "" {
		q.Set("page_token", token)
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/api/facts", query: q}, &facts)
	if err != nil {
		return nil, "", err
	}
	return facts, resp.header.Get("Castellan-Next-Page-Token"), nil
}

// Clear deletes every stored fact (POST /api/clear_data).
func (c *Client) Clear(ctx context.Context) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/clear_data", write: true}, nil)
	return err
}

// Stats counts the stored facts.
type Stats struct {
	NumRoles     int64 `json:"num_roles"`
	NumRelations int64 `json:"num_relations"`
	NumFacts     int64 `json:"num_facts"`
}

// Stats returns the numbers of stored facts (GET /api/stats).
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/stats"}, &s)
	return s, err
}
