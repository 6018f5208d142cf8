package castellan

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// PolicyFile is one file of a policy.
type PolicyFile struct {
	Filename string `json:"filename"`
	Src      string `json:"src"`
}

// UploadResult is the answer to UploadPolicy.
type UploadResult struct {
	// Message is the server's message, such as "Policy loaded (version 3)".
	Message string
	// Changed is false when the policy was identical to the live one (202).
	Changed bool
	// DataCheck is the check of the stored facts against the policy, when
	// UploadOptions.DataCheck asked for it.
	DataCheck *DataCheck
}

// DataCheck reports the stored facts a policy cannot use.
type DataCheck struct {
	// Facts counts the stored facts, Checked the ones looked at.
	Facts   int `json:"facts"`
	Checked int `json:"checked"`
	// Unusable counts the facts the policy cannot use.
	Unusable int `json:"unusable"`
	// Partial is set when the server stopped checking after a bound.
	Partial    bool            `json:"partial"`
	Predicates []UnusableFacts `json:"predicates"`
}

// UnusableFacts is the stored facts of one predicate a policy cannot use.
type UnusableFacts struct {
	Predicate string `json:"predicate"`
	Arity     int    `json:"arity"`
	Count     int    `json:"count"`
	// Unused is set when no rule uses the predicate; otherwise the facts do
	// not type-check.
	Unused bool `json:"unused"`
	// Message says why the first of them cannot be used.
	Message string `json:"message"`
	// Sample holds up to 3 of them, in Polar syntax.
	Sample []string `json:"sample"`
}

// UploadPolicy checks files together as one policy, runs its tests and
// makes it the live policy (POST /api/policy). One file is sent in the Oso
// format {"filename", "src"}; several in Castellan's {"files": [...]}.
// A rejected policy returns an *Error with Code "invalid_policy" or
// "tests_failed" and one ErrorDetail per problem, or "policy_needs_force"
// for a policy that would deny everything or orphan every stored fact
// (see UploadPolicyWith); the old policy stays live.
func (c *Client) UploadPolicy(ctx context.Context, files ...PolicyFile) (UploadResult, error) {
	return c.UploadPolicyWith(ctx, UploadOptions{}, files...)
}

// UploadOptions changes what UploadPolicyWith asks of the server.
type UploadOptions struct {
	// Force makes live a policy the server would otherwise refuse with
	// "policy_needs_force": one with no allow rule, or one that would
	// orphan every stored fact. The message says what it does.
	Force bool
	// Strict makes the server refuse, with an *Error of Code
	// "unusable_facts" (one ErrorDetail per predicate), a policy under
	// which stored facts would not be usable; nothing changes.
	Strict bool
	// DataCheck asks for the check of the stored facts in the answer
	// (UploadResult.DataCheck).
	DataCheck bool
}

// UploadPolicyWith is UploadPolicy with options.
func (c *Client) UploadPolicyWith(ctx context.Context, opts UploadOptions, files ...PolicyFile) (UploadResult, error) {
	if len(files) == 0 {
		return UploadResult{}, errors.New("upload policy: no files")
	}
	type flags struct {
		Force     bool `json:"force,omitempty"`
		Strict    bool `json:"strict,omitempty"`
		DataCheck bool `json:"data_check,omitempty"`
	}
	f := flags{opts.Force, opts.Strict, opts.DataCheck}
	var body any
	if len(files) == 1 {
		body = struct {
			PolicyFile
			flags
		}{files[0], f}
	} else {
		body = struct {
			Files []PolicyFile `json:"files"`
			flags
		}{files, f}
	}
	var out struct {
		Message   string     `json:"message"`
		DataCheck *DataCheck `json:"data_check"`
	}
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/api/policy", body: body, write: true}, &out)
	if err != nil {
		return UploadResult{}, err
	}
	return UploadResult{Message: out.Message, Changed: resp.status != http.StatusAccepted, DataCheck: out.DataCheck}, nil
}

// policyBody is files as the server takes a policy: Oso's {filename, src}
// for one file, {files} for several.
func policyBody(files []PolicyFile) map[string]any {
	if len(files) == 1 {
		return map[string]any{"filename": files[0].Filename, "src": files[0].Src}
	}
	return map[string]any{"files": files}
}

// GetPolicy returns the live policy (GET /api/policy), or nil when no
// policy was ever uploaded.
func (c *Client) GetPolicy(ctx context.Context) (*PolicyFile, error) {
	var out struct {
		Policy *PolicyFile `json:"policy"`
	}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/policy"}, &out); err != nil {
		return nil, err
	}
	return out.Policy, nil
}

// PolicyVersionInfo summarises one stored version of the policy.
type PolicyVersionInfo struct {
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Live      bool      `json:"live"`
	Files     []string  `json:"files"`
	// Source is "upload", "file" or "git" ("" for versions saved before
	// sources were recorded); Commit the git commit of a version from git.
	Source string `json:"source"`
	Commit string `json:"commit,omitempty"`
	// TestCount is the number of test blocks the version passed when saved.
	TestCount int `json:"test_count"`
	// Status is "live", "previous" (older than the live version) or
	// "rolled_back" (newer: a rollback replaced it).
	Status string `json:"status"`
}

// PolicyVersion is one stored version of the policy with its sources.
type PolicyVersion struct {
	Version   int64        `json:"version"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by"`
	Live      bool         `json:"live"`
	Files     []PolicyFile `json:"files"`
	Source    string       `json:"source"`
	Commit    string       `json:"commit,omitempty"`
	TestCount int          `json:"test_count"`
	Status    string       `json:"status"`
}

// PolicyQuery selects the versions ListPolicies returns; zero fields
// select everything.
type PolicyQuery struct {
	// Status is "live", "previous" or "rolled_back".
	Status string
	// Since and Until bound the creation time (Until excluded).
	Since, Until time.Time
	// Limit is the page size (the server's default is 100, at most 1000).
	Limit int
	// PageToken is the NextPageToken of the previous page.
	PageToken string
}

// PolicyPage is one page of ListPolicies.
type PolicyPage struct {
	Policies []PolicyVersionInfo `json:"policies"`
	// NextPageToken, when not empty, asks for the next page.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// ListPolicies returns one page of the stored policy versions q selects,
// newest first (GET /admin/v1/policies).
func (c *Client) ListPolicies(ctx context.Context, q PolicyQuery) (PolicyPage, error) {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.PageToken != "" {
		v.Set("page_token", q.PageToken)
	}
	var out PolicyPage
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/admin/v1/policies", query: v}, &out)
	return out, err
}

// PolicyHistory lists every stored policy version, newest first, reading
// every page of ListPolicies.
func (c *Client) PolicyHistory(ctx context.Context) ([]PolicyVersionInfo, error) {
	var all []PolicyVersionInfo
	q := PolicyQuery{Limit: 1000}
	for {
		page, err := c.ListPolicies(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Policies...)
		if page.NextPageToken == "" {
			return all, nil
		}
		q.PageToken = page.NextPageToken
	}
}

// GetPolicyVersion returns one stored policy version with its files
// (GET /admin/v1/policies/{version}).
func (c *Client) GetPolicyVersion(ctx context.Context, version int64) (PolicyVersion, error) {
	var out PolicyVersion
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/admin/v1/policies/" + strconv.FormatInt(version, 10)}, &out)
	return out, err
}

// ActivatePolicy makes a stored version the live policy again (a rollback;
// POST /admin/v1/policies/{version}/activate). The server re-checks it and
// re-runs its tests first.
func (c *Client) ActivatePolicy(ctx context.Context, version int64) (PolicyVersion, error) {
	var out PolicyVersion
	_, err := c.do(ctx, call{
		method: http.MethodPost, path: "/admin/v1/policies/" + strconv.FormatInt(version, 10) + "/activate", write: true,
	}, &out)
	return out, err
}

// PolicyValidation is the answer to ValidatePolicy.
type PolicyValidation struct {
	// Valid is true when an upload of the policy would pass the compile
	// and test checks.
	Valid bool `json:"valid"`
	// Errors and Warnings carry file, line, column, message and hint.
	Errors   []ErrorDetail `json:"errors"`
	Warnings []ErrorDetail `json:"warnings"`
	// Tests holds every test block's result (none when the policy does not
	// compile).
	Tests []PolicyTestResult `json:"tests"`
}

// PolicyTestResult is one test block's result.
type PolicyTestResult struct {
	Name     string        `json:"name"`
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Column   int           `json:"column"`
	Passed   int           `json:"passed"`
	Total    int           `json:"total"`
	Failures []ErrorDetail `json:"failures"`
}

// ValidatePolicy compiles files as one policy and runs its tests without
// saving or activating anything (POST /api/policy/validate, admin). An
// invalid policy is not an error: see the answer's Errors and Tests.
func (c *Client) ValidatePolicy(ctx context.Context, files ...PolicyFile) (PolicyValidation, error) {
	var body any
	switch len(files) {
	case 0:
		return PolicyValidation{}, errors.New("validate policy: no files")
	case 1:
		body = files[0]
	default:
		body = struct {
			Files []PolicyFile `json:"files"`
		}{files}
	}
	var out PolicyValidation
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/policy/validate", body: body}, &out)
	return out, err
}
