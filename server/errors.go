package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unsafe"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
)

// Error codes of the envelope. Oso SDKs read only "message"; Castellan's
// client reads "code" too.
const (
	codeInvalidRequest   = "invalid_request"
	codeInvalidJSON      = "invalid_json"
	codeInvalidFact      = "invalid_fact"
	codeUnauthenticated  = "unauthenticated"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeTooLarge         = "too_large"
	codeLimitExceeded    = "limit_exceeded"
	codeInvalidPolicy    = "invalid_policy"
	codeTestsFailed      = "tests_failed"
	codeNoPolicy         = "no_policy"
	codeTooManyRequests  = "too_many_requests"
	codeUnavailable      = "unavailable"
	codeTimeout          = "timeout"
	codeQueryLimit       = "query_limit"
	codePageTokenExpired = "page_token_expired"
	codeNotImplemented   = "not_implemented"
	codeInternal         = "internal"
)

// apiError is an error with everything the envelope needs. Handlers return
// it for what they detect themselves; errors from the store and evaluator
// are classified by toAPIError.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details []any
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Err is the cause, logged for 5xx and never sent.
	Err error
}

func (e *apiError) Error() string { return e.Message }

func (e *apiError) Unwrap() error { return e.Err }

// errorf returns an apiError with a formatted message.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// badRequest returns a 400 invalid_request error.
func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, codeInvalidRequest, format, args...)
}

// envelope is the body of every error response.
type envelope struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	Details []any  `json:"details"`
}

// toAPIError maps any error to its status, code and public message. It is
// the one place where errors meet HTTP (STYLE rule 12).
func toAPIError(err error) *apiError {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae
	}
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Err: err,
			Message: fmt.Sprintf("request body exceeds the limit of %d bytes (--max-body-bytes)", mbe.Limit)}
	}
	if ae := classifyDomainError(err); ae != nil {
		return ae
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeTimeout, Err: err,
			Message: "the request took longer than the query time limit (--query-timeout)"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return &apiError{Status: 499, Code: codeTimeout, Err: err, Message: "request canceled"}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error", Err: err}
}

// writeError answers r with the envelope for err. Server-side failures are
// logged with the request id (which the access log and the response carry
// too); their cause is never echoed. A 501 (an endpoint Castellan does not
// implement) is the caller's choice, not a failure.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 && ae.Status != http.StatusNotImplemented {
		requestLog(r).Error().Err(err).Int("status", ae.Status).Msg("request failed")
	} else if ae.Err != nil {
		requestLog(r).Debug().Err(ae.Err).Int("status", ae.Status).Msg("request rejected")
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	details := ae.Details
	if details == nil {
		details = []any{}
	}
	writeJSON(w, ae.Status, envelope{Message: ae.Message, Code: ae.Code, Details: details})
}

// writeJSON answers with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unencodable type) gets here.
		status = http.StatusInternalServerError
		body = []byte(`{"message":"internal error","code":"internal","details":[]}`)
	}
	setJSONHeaders(w.Header(), len(body)+1)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// jsonContentType is the Content-Type of JSON answers, one slice shared
// by every response (net/http only reads it; its length is its capacity,
// so that an Add elsewhere copies rather than writes into it).
var jsonContentType = []string{"application/json"}

// smallLengths are the Content-Length values of short answers, shared
// like jsonContentType: an authorize answers one of these.
var smallLengths = func() [][]string {
	out := make([][]string, 512)
	for n := range out {
		out[n] = []string{strconv.Itoa(n)}
	}
	return out
}()

// setJSONHeaders sets the headers of a JSON answer of n bytes without
// allocating for a short one.
func setJSONHeaders(h http.Header, n int) {
	h["Content-Type"] = jsonContentType
	if n < len(smallLengths) {
		h["Content-Length"] = smallLengths[n]
	} else {
		h["Content-Length"] = []string{strconv.Itoa(n)}
	}
}

// rawJSON is an answer that is JSON already (see writeRaw).
type rawJSON string

// The two answers of an authorize without explanation.
const (
	allowedTrue  rawJSON = "{\"allowed\":true}\n"
	allowedFalse rawJSON = "{\"allowed\":false}\n"
)

// writeRaw answers with body, which is JSON already.
func writeRaw(w http.ResponseWriter, status int, body rawJSON) {
	setJSONHeaders(w.Header(), len(body))
	w.WriteHeader(status)
	// The bytes of body itself: a Writer must not modify what it is given,
	// and io.WriteString would copy them (chi's wrapper has no WriteString).
	_, _ = w.Write(unsafe.Slice(unsafe.StringData(string(body)), len(body)))
}

// message is the {"message": ...} answer of writes and admin calls.
type message struct {
	Message string `json:"message"`
}

// classifyDomainError maps the errors of lang, evaluator, policy and store to
// their envelope, or returns nil for an error it does not know.
func classifyDomainError(err error) *apiError {
	if el, ok := errors.AsType[ast.ErrorList](err); ok {
		return policyError(el)
	}
	if tf, ok := errors.AsType[*policy.TestsFailedError](err); ok {
		return testsFailedError(tf)
	}
	if de, ok := errors.AsType[*policy.DataCheckError](err); ok {
		return unusableFactsError(de)
	}
	if fe, ok := errors.AsType[*store.InvalidFactError](err); ok {
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidFact, Err: err,
			Message: fmt.Sprintf("invalid fact (inserted fact #%d) %s: %v", fe.Index+1, fe.Fact, fe.Err)}
	}
	switch {
	case errors.Is(err, evaluator.ErrInvalidPageToken):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidRequest, Err: err,
			Message: "invalid page token: send the token of the previous page unchanged, with the same query (" + err.Error() + ")"}
	case errors.Is(err, store.ErrRevisionGone):
		return &apiError{Status: http.StatusGone, Code: codePageTokenExpired, Err: err,
			Message: "page token expired: the revision it reads is no longer kept (" + err.Error() + "); restart the list without a page token"}
	case errors.Is(err, evaluator.ErrInvalidQuery):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidRequest, Err: err, Message: err.Error()}
	case errors.Is(err, evaluator.ErrDepthExceeded), errors.Is(err, evaluator.ErrWorkExceeded):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: codeQueryLimit, Err: err,
			Message: "the query was stopped: " + err.Error() + " (the policy recurses too deeply or the query is too broad)"}
	case errors.Is(err, policy.ErrNeedsForce):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: codePolicyNeedsForce, Err: err, Message: err.Error()}
	case errors.Is(err, policy.ErrInvalidFiles):
		return badRequest("%s", err.Error())
	case errors.Is(err, store.ErrInvalidFact):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidFact, Err: err, Message: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Err: err, Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Err: err, Message: err.Error()}
	case errors.Is(err, store.ErrRevisionUnavailable):
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Err: err, RetryAfter: 1,
			Message: "the store has not reached the revision in OsoOffset yet; retry shortly"}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed):
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Err: err, RetryAfter: 1,
			Message: "the store is unavailable; retry shortly"}
	}
	return nil
}

// policyError is the 422 of a policy that does not compile.
func policyError(el ast.ErrorList) *apiError {
	details := make([]any, len(el))
	for i, d := range toErrorDetails(el) {
		details[i] = d
	}
	msg := "invalid policy"
	if len(el) > 0 {
		msg = el[0].Pos.String() + ": " + el[0].Msg
		if el[0].Hint != "" {
			// SDKs show only the message: carry the first hint in it too.
			msg += " (hint: " + el[0].Hint + ")"
		}
		if len(el) > 1 {
			msg += " (and more errors: see details)"
		}
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Code: codeInvalidPolicy, Message: msg, Details: details}
}

// policyErrorDetail is one detail of an invalid_policy error.
type policyErrorDetail struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}
