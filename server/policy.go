package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
)

// policyUpload is the body of POST /api/policy: Oso's {filename, src}, or
// Castellan's {files: [{filename, src}, ...]}; either with Castellan's
// optional "force": true, which makes live a policy the guard refuses (no
// allow rule, or every stored fact orphaned), "strict": true, which
// refuses a policy under which stored facts would not be usable, and
// "data_check": true, which adds the check of the stored facts to the
// answer. Oso SDKs never send them.
type policyUpload struct {
	Filename  *string          `json:"filename"`
	Src       *string          `json:"src"`
	Files     []policyFileJSON `json:"files"`
	Force     bool             `json:"force"`
	Strict    bool             `json:"strict"`
	DataCheck bool             `json:"data_check"`
}

// policyLoaded is the answer of an upload that asked for the data check.
type policyLoaded struct {
	Message   string        `json:"message"`
	DataCheck *dataCheckOut `json:"data_check"`
}

// codePolicyNeedsForce is the envelope code of a policy refused without
// "force" (422).
const codePolicyNeedsForce = "policy_needs_force"

type policyFileJSON struct {
	Filename string `json:"filename"`
	Src      string `json:"src"`
}

// files returns the upload as policy files.
func (u policyUpload) files() ([]store.PolicyFile, error) {
	if u.Files != nil {
		if u.Src != nil || u.Filename != nil {
			return nil, badRequest("send either src (and filename) or files, not both")
		}
		if len(u.Files) == 0 {
			return nil, badRequest("files: at least one file is required")
		}
		out := make([]store.PolicyFile, len(u.Files))
		for i, f := range u.Files {
			out[i] = store.PolicyFile{Filename: f.Filename, Src: f.Src}
		}
		return out, nil
	}
	if u.Src == nil {
		return nil, badRequest("src is required")
	}
	name := defaultPolicyFilename
	if u.Filename != nil && strings.TrimSpace(*u.Filename) != "" {
		name = *u.Filename
	}
	return []store.PolicyFile{{Filename: name, Src: *u.Src}}, nil
}

func (s *Server) handleUploadPolicy(w http.ResponseWriter, r *http.Request) {
	var req policyUpload
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	files, err := req.files()
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts := []policy.LoadOption{policy.From(store.PolicySourceUpload, "")}
	if req.Force {
		opts = append(opts, policy.Force())
	}
	strict, err := boolParam(r, "strict")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Strict || strict {
		opts = append(opts, policy.Strict())
	}
	if s.cfg.Dev {
		opts = append(opts, policy.AllowOrphans()) // as Oso's dev server, for the SDK suites
	}
	res, err := s.policies.Load(r.Context(), files, callerFrom(r.Context()).ID, opts...)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if head, err := s.store.Head(r.Context()); err == nil {
		s.setOffset(w, head)
	}
	status, msg := http.StatusOK, fmt.Sprintf("Policy loaded (version %d)", res.Version)
	if !res.Changed {
		status, msg = http.StatusAccepted, fmt.Sprintf("Policy unchanged (version %d)", res.Version)
	}
	if res.Warning != "" {
		msg += "; warning: " + res.Warning
	}
	if sum := res.Data.Summary(); sum != "" {
		msg += "; " + sum
	}
	asked, err := boolParam(r, "data_check")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.DataCheck || asked {
		writeJSON(w, status, policyLoaded{Message: msg, DataCheck: toDataCheckOut(res.Data)})
		return
	}
	writeJSON(w, status, message{Message: msg})
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s: %q is not true or false", name, v)
	}
	return b, nil
}

// dataCheckOut is policy.DataReport on the wire.
type dataCheckOut struct {
	// Facts counts the stored facts, Checked those looked at.
	Facts      int           `json:"facts"`
	Checked    int           `json:"checked"`
	Unusable   int           `json:"unusable"`
	Partial    bool          `json:"partial"`
	Predicates []unusableOut `json:"predicates"`
}

// unusableOut is the unusable facts of one predicate.
type unusableOut struct {
	Predicate string   `json:"predicate"`
	Arity     int      `json:"arity"`
	Count     int      `json:"count"`
	Unused    bool     `json:"unused"`
	Message   string   `json:"message"`
	Sample    []string `json:"sample"`
}

// toDataCheckOut is rep on the wire; a report of no facts when rep is nil
// (none stored).
func toDataCheckOut(rep *policy.DataReport) *dataCheckOut {
	out := &dataCheckOut{Predicates: []unusableOut{}}
	if rep == nil {
		return out
	}
	out.Facts, out.Checked, out.Unusable, out.Partial = rep.Facts, rep.Checked, rep.Unusable, rep.Partial
	for _, p := range rep.Predicates {
		out.Predicates = append(out.Predicates, unusableOut{Predicate: p.Predicate, Arity: p.Arity, Count: p.Count,
			Unused: p.Unused, Message: p.Reason, Sample: p.Sample})
	}
	return out
}

// codeUnusableFacts is the envelope code of a strict upload refused
// because stored facts would not be usable (422).
const codeUnusableFacts = "unusable_facts"

// unusableFactsError is the 422 unusable_facts answer to e: one detail per
// predicate.
func unusableFactsError(e *policy.DataCheckError) *apiError {
	details := make([]any, len(e.Report.Predicates))
	for i, p := range e.Report.Predicates {
		details[i] = unusableOut{Predicate: p.Predicate, Arity: p.Arity, Count: p.Count, Unused: p.Unused, Message: p.Reason, Sample: p.Sample}
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Code: codeUnusableFacts, Message: e.Error(), Details: details, Err: e}
}

// osoPolicy is the policy as GET /api/policy returns it.
type osoPolicy struct {
	Filename string `json:"filename"`
	Src      string `json:"src"`
}

func (s *Server) handleGetPolicy(w http.ResponseWriter, r *http.Request) {
	version, err := versionParam(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var files []store.PolicyFile
	if version == 0 {
		files = s.policies.Live().Files()
	} else {
		p, err := s.policies.Stored(r.Context(), version)
		if err != nil {
			writeError(w, r, err)
			return
		}
		files = p.Files
	}
	out := struct {
		Policy *osoPolicy `json:"policy"`
	}{}
	if len(files) > 0 {
		out.Policy = &osoPolicy{Filename: files[0].Filename, Src: joinSources(files)}
	}
	writeJSON(w, http.StatusOK, out)
}

// joinSources returns the source of a policy as one text: the file itself
// when there is one, else each file after a "# file: name" comment line.
func joinSources(files []store.PolicyFile) string {
	if len(files) == 1 {
		return files[0].Src
	}
	var b strings.Builder
	for i, f := range files {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "# file: %s\n%s", f.Filename, f.Src)
		if !strings.HasSuffix(f.Src, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func (s *Server) handlePolicyMetadata(w http.ResponseWriter, r *http.Request) {
	version, err := versionParam(r, "version", "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.policies.Version(r.Context(), version)
	if err != nil {
		writeError(w, r, err)
		return
	}
	md := toMetadataOut(p.Program().Metadata)
	if v := r.URL.Query().Get("predicates"); v == "true" || v == "1" {
		// Castellan's addition, only when asked for (the SDKs refuse
		// unknown keys): the storable predicates and the rules using each.
		md.Predicates = toPredicatesOut(p.Program().UsedBy())
	}
	writeJSON(w, http.StatusOK, struct {
		Metadata metadataOut `json:"metadata"`
	}{md})
}

// versionParam reads a policy version from the first query parameter of
// names that is present (0 when none is).
func versionParam(r *http.Request, names ...string) (int64, error) {
	for _, n := range names {
		if v := r.URL.Query().Get(n); v != "" {
			version, err := strconv.ParseInt(v, 10, 64)
			if err != nil || version < 1 {
				return 0, badRequest("%s: %q is not a policy version", n, v)
			}
			return version, nil
		}
	}
	return 0, nil
}

// policyVersionInfo is a version as GET /admin/v1/policies lists it.
type policyVersionInfo struct {
	Version   int64    `json:"version"`
	CreatedAt string   `json:"created_at"`
	CreatedBy string   `json:"created_by"`
	Live      bool     `json:"live"`
	Files     []string `json:"files"`
	Source    string   `json:"source"`
	Commit    string   `json:"commit,omitempty"`
	TestCount int      `json:"test_count"`
	Status    string   `json:"status"`
}

// policyVersion is one version with its source.
type policyVersion struct {
	Version   int64            `json:"version"`
	CreatedAt string           `json:"created_at"`
	CreatedBy string           `json:"created_by"`
	Live      bool             `json:"live"`
	Files     []policyFileJSON `json:"files"`
	Source    string           `json:"source"`
	Commit    string           `json:"commit,omitempty"`
	TestCount int              `json:"test_count"`
	Status    string           `json:"status"`
}

func toPolicyVersion(p store.Policy) policyVersion {
	files := make([]policyFileJSON, len(p.Files))
	for i, f := range p.Files {
		files[i] = policyFileJSON{Filename: f.Filename, Src: f.Src}
	}
	return policyVersion{Version: p.Version, CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339), CreatedBy: p.CreatedBy, Live: p.Live, Files: files,
		Source: p.Source, Commit: p.Commit, TestCount: p.TestCount, Status: string(p.Status)}
}

// Page sizes of GET /admin/v1/policies.
const (
	defaultPolicyPage = 100
	maxPolicyPage     = 1000
)

// handlePolicyHistory lists policy versions, newest first: GET
// /admin/v1/policies with status (live, previous, rolled_back), since and
// until (RFC 3339, on the creation time), limit and page_token.
func (s *Server) handlePolicyHistory(w http.ResponseWriter, r *http.Request) {
	f, err := policyFilter(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit := f.Limit
	f.Limit++ // one more says whether there is a next page
	page, err := s.policies.List(r.Context(), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Policies      []policyVersionInfo `json:"policies"`
		NextPageToken string              `json:"next_page_token,omitempty"`
	}{Policies: []policyVersionInfo{}}
	if len(page) > limit {
		page = page[:limit]
		out.NextPageToken = strconv.FormatInt(page[limit-1].Version, 10)
	}
	for _, p := range page {
		out.Policies = append(out.Policies, policyVersionInfo{Version: p.Version, CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339),
			CreatedBy: p.CreatedBy, Live: p.Live, Files: filenames(p.Files),
			Source: p.Source, Commit: p.Commit, TestCount: p.TestCount, Status: string(p.Status)})
	}
	writeJSON(w, http.StatusOK, out)
}

// policyFilter reads the query of GET /admin/v1/policies.
func policyFilter(r *http.Request) (store.PolicyFilter, error) {
	v := r.URL.Query()
	f := store.PolicyFilter{Limit: defaultPolicyPage}
	if p := v.Get("status"); p != "" {
		st, ok := store.ParsePolicyStatus(p)
		if !ok {
			return f, badRequest("status: %q is not a policy status (live, previous or rolled_back)", p)
		}
		f.Status = st
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if p := v.Get(t.name); p != "" {
			tm, err := time.Parse(time.RFC3339Nano, p)
			if err != nil {
				return f, badRequest("%s: %q is not an RFC 3339 time", t.name, p)
			}
			*t.dst = tm
		}
	}
	if p := v.Get("limit"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > maxPolicyPage {
			return f, badRequest("limit: %q is not an integer from 1 to %d", p, maxPolicyPage)
		}
		f.Limit = n
	}
	if p := v.Get("page_token"); p != "" {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n <= 1 {
			return f, badRequest("page_token: %q is not a token of this listing (use next_page_token)", p)
		}
		f.Before = n
	}
	return f, nil
}

// pathVersion reads the {version} URL parameter.
func pathVersion(r *http.Request) (int64, error) {
	v := chi.URLParam(r, "version")
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil || version < 1 {
		return 0, badRequest("%q is not a policy version", v)
	}
	return version, nil
}

func (s *Server) handleGetPolicyVersion(w http.ResponseWriter, r *http.Request) {
	version, err := pathVersion(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.policies.Stored(r.Context(), version)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPolicyVersion(p))
}

func (s *Server) handleActivatePolicy(w http.ResponseWriter, r *http.Request) {
	version, err := pathVersion(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.policies.Activate(r.Context(), version)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPolicyVersion(p))
}

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

// policyCandidate is the body of POST /api/policy/validate: a policy as an
// upload sends it, {filename, src} or {files: [...]}.
type policyCandidate struct {
	Filename *string          `json:"filename"`
	Src      *string          `json:"src"`
	Files    []policyFileJSON `json:"files"`
}

// validationOut is the answer of POST /api/policy/validate.
type validationOut struct {
	Valid    bool                `json:"valid"`
	Errors   []policyErrorDetail `json:"errors"`
	Warnings []policyErrorDetail `json:"warnings"`
	Tests    []testResultOut     `json:"tests"`
}

// testResultOut is one test block's result.
type testResultOut struct {
	Name     string              `json:"name"`
	File     string              `json:"file"`
	Line     int                 `json:"line"`
	Column   int                 `json:"column"`
	Passed   int                 `json:"passed"`
	Total    int                 `json:"total"`
	Failures []testFailureDetail `json:"failures"`
}

// handleValidatePolicy compiles a candidate policy and runs its tests
// without saving or activating it: 200 with what was found, valid or not.
func (s *Server) handleValidatePolicy(w http.ResponseWriter, r *http.Request) {
	var req policyCandidate
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	files, err := policyUpload{Filename: req.Filename, Src: req.Src, Files: req.Files}.files()
	if err != nil {
		writeError(w, r, err)
		return
	}
	v, err := policy.Validate(r.Context(), files)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toValidationOut(v))
}

func toValidationOut(v policy.Validation) validationOut {
	out := validationOut{Valid: v.Valid(), Errors: toErrorDetails(v.Errors), Warnings: toErrorDetails(v.Warnings),
		Tests: make([]testResultOut, len(v.Tests))}
	for i, tr := range v.Tests {
		t := testResultOut{Name: tr.Name, File: tr.Pos.File, Line: tr.Pos.Line, Column: tr.Pos.Col,
			Passed: tr.Passed, Total: tr.Total, Failures: []testFailureDetail{}}
		// The failures as a tests_failed error names them (the position of
		// the assertion, else of the test).
		for _, f := range (&policy.TestsFailedError{Results: v.Tests[i : i+1]}).Failures() {
			t.Failures = append(t.Failures, testFailureDetail{Test: f.Test, File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, Message: f.Message})
		}
		out.Tests[i] = t
	}
	return out
}

// toErrorDetails converts positioned errors (never nil: [] when none).
func toErrorDetails(el ast.ErrorList) []policyErrorDetail {
	out := make([]policyErrorDetail, len(el))
	for i, e := range el {
		out[i] = policyErrorDetail{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg, Hint: e.Hint}
	}
	return out
}
