package castellan

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DecisionQuery selects decision log records (GET /admin/v1/decisions).
// A zero field matches every record.
type DecisionQuery struct {
	// Since and Until bound the records' times: Since <= time < Until.
	Since, Until time.Time
	// Caller is the API key id (or identity) that asked.
	Caller string
	// Actor and Resource are "Type:id", or "Type" for any id.
	Actor, Resource string
	Action          string
	// Result is "allowed", "denied" or "error".
	Result        string
	PolicyVersion int64
	// Limit is the most records of a page (server default 100, at most 1000).
	Limit int
	// PageToken continues a previous page (DecisionPage.NextPageToken).
	PageToken string
}

// DecisionPage is one page of decision records, newest first.
type DecisionPage struct {
	Decisions []DecisionRecord `json:"decisions"`
	// NextPageToken continues with older records; "" on the last page.
	NextPageToken string `json:"next_page_token"`
}

// DecisionRecord is one record of the decision log. Raw holds the record as the server
// sent it, with the fields this type does not name (results, context
// facts, explanation, hash chain).
type DecisionRecord struct {
	// Replica names the chain of the record (PostgreSQL sink).
	Replica       string        `json:"replica"`
	Seq           uint64        `json:"seq"`
	Time          time.Time     `json:"time"`
	RequestID     string        `json:"request_id"`
	Endpoint      string        `json:"endpoint"`
	Caller        string        `json:"caller"`
	OnBehalfOf    string        `json:"on_behalf_of"`
	Actor         Value         `json:"actor"`
	Action        string        `json:"action"`
	Resource      Value         `json:"resource"`
	ResourceType  string        `json:"resource_type"`
	Query         string        `json:"query"`
	Allowed       *bool         `json:"allowed"`
	Count         *int          `json:"count"`
	Error         string        `json:"error"`
	PolicyVersion int64         `json:"policy_version"`
	Revision      uint64        `json:"revision"`
	Latency       time.Duration `json:"latency_ns"`

	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the record in Raw too.
func (d *DecisionRecord) UnmarshalJSON(b []byte) error {
	type plain DecisionRecord
	if err := json.Unmarshal(b, (*plain)(d)); err != nil {
		return err
	}
	d.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Decisions searches the decision log, newest first (GET
// /admin/v1/decisions, admin scope). The server answers 400 when it keeps
// no searchable decision log.
func (c *Client) Decisions(ctx context.Context, q DecisionQuery) (DecisionPage, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		set("until", q.Until.Format(time.RFC3339Nano))
	}
	set("caller", q.Caller)
	set("actor", q.Actor)
	set("action", q.Action)
	set("resource", q.Resource)
	set("result", q.Result)
	set("page_token", q.PageToken)
	if q.PolicyVersion != 0 {
		set("policy_version", strconv.FormatInt(q.PolicyVersion, 10))
	}
	if q.Limit != 0 {
		set("limit", strconv.Itoa(q.Limit))
	}
	var out DecisionPage
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/admin/v1/decisions", query: v}, &out)
	return out, err
}
