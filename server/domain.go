package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
)

// classifyDomainError maps the errors of lang, evaluator, policy and store to
// their envelope, or returns nil for an error it does not know.
func classifyDomainError(err error) *apiError {
	if el, ok := errors.AsType[ast.ErrorList](err); ok {
		return policyError(el)
	}
	if tf, ok := errors.AsType[*policy.TestsFailedError](err); ok {
		return testsFailedError(tf)
	}
	if fe, ok := errors.AsType[*store.InvalidFactError](err); ok {
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidFact, Err: err,
			Message: fmt.Sprintf("invalid fact (inserted fact #%d) %s: %v", fe.Index+1, fe.Fact, fe.Err)}
	}
	switch {
	case errors.Is(err, evaluator.ErrInvalidPageToken):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidRequest, Err: err,
			Message: "invalid page token: send the token of the previous page unchanged, with the same query"}
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
	for i, e := range el {
		details[i] = policyErrorDetail{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg, Hint: e.Hint}
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
