package castellan

import (
	"context"
	"errors"
	"net/http"
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
}

// UploadPolicyWith is UploadPolicy with options.
func (c *Client) UploadPolicyWith(ctx context.Context, opts UploadOptions, files ...PolicyFile) (UploadResult, error) {
	var body any
	switch len(files) {
	case 0:
		return UploadResult{}, errors.New("upload policy: no files")
	case 1:
		body = struct {
			PolicyFile
			Force bool `json:"force,omitempty"`
		}{files[0], opts.Force}
	default:
		body = struct {
			Files []PolicyFile `json:"files"`
			Force bool         `json:"force,omitempty"`
		}{files, opts.Force}
	}
	var out messageResponse
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/api/policy", body: body, write: true}, &out)
	if err != nil {
		return UploadResult{}, err
	}
	return UploadResult{Message: out.Message, Changed: resp.status != http.StatusAccepted}, nil
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
}

// PolicyVersion is one stored version of the policy with its sources.
type PolicyVersion struct {
	Version   int64        `json:"version"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by"`
	Live      bool         `json:"live"`
	Files     []PolicyFile `json:"files"`
}

// PolicyHistory lists the stored policy versions, newest first
// (GET /admin/v1/policies).
func (c *Client) PolicyHistory(ctx context.Context) ([]PolicyVersionInfo, error) {
	var out struct {
		Policies []PolicyVersionInfo `json:"policies"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/admin/v1/policies"}, &out)
	return out.Policies, err
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
