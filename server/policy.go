package server

import (
	"fmt"
	"net/http"

	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
)

// defaultPolicyFilename names a policy uploaded without a filename.
const defaultPolicyFilename = "policy.polar"

// testFailureDetail is one detail of a tests_failed error.
type testFailureDetail struct {
	Test    string `json:"test"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// testsFailedError is the 422 tests_failed answer to e.
func testsFailedError(e *policy.TestsFailedError) *apiError {
	fs := e.Failures()
	details := make([]any, len(fs))
	for i, f := range fs {
		details[i] = testFailureDetail{Test: f.Test, File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, Message: f.Message}
	}
	msg := "policy tests failed"
	if len(fs) > 0 {
		f := fs[0]
		msg = fmt.Sprintf("%s:%d:%d: test %q failed: %s", f.Pos.File, f.Pos.Line, f.Pos.Col, f.Test, f.Message)
	}
	if n := e.Failed(); n > 1 {
		msg += fmt.Sprintf(" (%d tests failed: see details)", n)
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Code: codeTestsFailed, Message: msg, Details: details, Err: e}
}

// filenames lists a policy's filenames, in order.
func filenames(files []store.PolicyFile) []string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Filename
	}
	return names
}
