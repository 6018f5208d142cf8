package castellan

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// PreviewOptions changes what PreviewPolicy replays.
type PreviewOptions struct {
	// Limit is how many of the last decisions of the server's decision log
	// to replay (the server's default, 1000, when 0).
	Limit int
	// Decisions, when set, are the records to replay (lines of a decision
	// log, such as a file written by castellan serve --audit-log) instead
	// of the server's log.
	Decisions []json.RawMessage
}

// Preview is what a candidate policy would change (PreviewPolicy).
type Preview struct {
	// LiveVersion is the live version compared with.
	LiveVersion int64 `json:"live_version"`
	// Decisions is how many records were read; Replayed how many
	// questions were asked under both policies.
	Decisions int `json:"decisions"`
	Replayed  int `json:"replayed"`
	// Changed counts the Changes.
	Changed int             `json:"changed"`
	Changes []PreviewChange `json:"changes"`
	// Skipped counts the records that could not be replayed, by endpoint.
	Skipped []PreviewSkip `json:"skipped"`
	// ContextHashed counts the replayed records whose context facts the log
	// kept only as a hash (replayed without them).
	ContextHashed int    `json:"context_hashed"`
	Errors        int    `json:"errors"`
	FirstError    string `json:"first_error"`
	// Notes say what may make the replay differ from the decisions made.
	Notes []string `json:"notes"`
}

// PreviewChange is one question the candidate answers differently.
type PreviewChange struct {
	Endpoint string `json:"endpoint"`
	Actor    Value  `json:"actor"`
	Action   string `json:"action"`
	Resource Value  `json:"resource"`
	// Before (live) and After (candidate) are "allowed" or "denied".
	Before string `json:"before"`
	After  string `json:"after"`
	// Rule is the rule responsible: in the derivation on the side that
	// allowed, the outermost rule the other policy does not have (else the
	// permission rule that allowed); nil when a fact allowed (Fact).
	Rule *RuleRef `json:"rule"`
	Fact string   `json:"fact"`
	// Count is how many replayed decisions asked this.
	Count         int       `json:"count"`
	Time          time.Time `json:"time"`
	ContextHashed bool      `json:"context_hashed"`
}

// RuleRef is a rule of a policy: its text and position (file:line:col).
type RuleRef struct {
	Text     string `json:"text"`
	Position string `json:"position"`
}

// PreviewSkip counts the records of one endpoint not replayed, and why.
type PreviewSkip struct {
	Endpoint string `json:"endpoint"`
	Count    int    `json:"count"`
	Reason   string `json:"reason"`
}

// PreviewPolicy compiles and tests files as a candidate policy and replays
// the last decisions under the live policy and the candidate (POST
// /api/policy/preview); nothing goes live. A candidate that does not
// compile or whose tests fail is an *Error as for UploadPolicy.
func (c *Client) PreviewPolicy(ctx context.Context, opts PreviewOptions, files ...PolicyFile) (*Preview, error) {
	if len(files) == 0 {
		return nil, errors.New("preview policy: no files")
	}
	body := policyBody(files)
	if opts.Limit > 0 {
		body["limit"] = opts.Limit
	}
	if opts.Decisions != nil {
		body["decisions"] = opts.Decisions
	}
	var out Preview
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/policy/preview", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ShadowStatus is a shadow run of a candidate policy on live traffic.
type ShadowStatus struct {
	Active         bool      `json:"active"`
	Started        time.Time `json:"started"`
	Ends           time.Time `json:"ends"`
	Stopped        time.Time `json:"stopped"`
	LiveVersion    int64     `json:"live_version"`
	CandidateFiles []string  `json:"candidate_files"`
	// Offered counts the authorize decisions offered to the run; Same and
	// Different those evaluated; Dropped those the full queue refused.
	Offered   uint64 `json:"offered"`
	Same      uint64 `json:"same"`
	Different uint64 `json:"different"`
	Dropped   uint64 `json:"dropped"`
	Errors    uint64 `json:"errors"`
	// Recent holds the latest differences, oldest first.
	Recent []ShadowDifference `json:"recent"`
}

// ShadowDifference is one decision the shadow policy made differently.
type ShadowDifference struct {
	Time     time.Time `json:"time"`
	Endpoint string    `json:"endpoint"`
	Actor    Value     `json:"actor"`
	Action   string    `json:"action"`
	Resource Value     `json:"resource"`
	// Live and Shadow are "allowed" or "denied".
	Live   string   `json:"live"`
	Shadow string   `json:"shadow"`
	Rule   *RuleRef `json:"rule"`
	Fact   string   `json:"fact"`
}

// StartShadow runs files as a candidate policy in shadow for d: every
// authorize the server answers is also evaluated under the candidate, off
// the request path, and the differences counted (POST
// /admin/v1/policy/shadow). It replaces a run in progress.
func (c *Client) StartShadow(ctx context.Context, d time.Duration, files ...PolicyFile) (*ShadowStatus, error) {
	if len(files) == 0 {
		return nil, errors.New("start shadow: no files")
	}
	body := policyBody(files)
	body["duration"] = d.String()
	var out ShadowStatus
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/admin/v1/policy/shadow", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Shadow returns the counts of the shadow run (GET
// /admin/v1/policy/shadow); an *Error with status 404 when none was
// started.
func (c *Client) Shadow(ctx context.Context) (*ShadowStatus, error) {
	var out ShadowStatus
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/admin/v1/policy/shadow"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StopShadow stops the shadow run and returns its final counts (DELETE
// /admin/v1/policy/shadow).
func (c *Client) StopShadow(ctx context.Context) (*ShadowStatus, error) {
	var out ShadowStatus
	if _, err := c.do(ctx, call{method: http.MethodDelete, path: "/admin/v1/policy/shadow"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
