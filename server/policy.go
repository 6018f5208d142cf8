package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// livePolicy is one policy version ready to answer: its checked program and
// its evaluator. It is immutable; the server swaps whole values.
type livePolicy struct {
	version int64 // 0: no policy was ever loaded
	files   []store.PolicyFile
	digest  [sha256.Size]byte
	prog    *lang.Program
	eval    *evaluator.Evaluator
}

// validator is the fact check of writes under this policy: facts must be
// ones the policy can use. Without a policy any well-formed fact is taken.
func (lp *livePolicy) validator() func(term.Fact) error {
	if lp.version == 0 {
		return nil
	}
	return lp.prog.CheckFact
}

// PolicyFile is one file of a policy to load.
type PolicyFile = store.PolicyFile

// defaultPolicyFilename names a policy uploaded without a filename.
const defaultPolicyFilename = "policy.polar"

// digestFiles identifies a policy's source, to detect unchanged uploads.
func digestFiles(files []store.PolicyFile) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%d:%s%d:%s", len(f.Filename), f.Filename, len(f.Src), f.Src)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// emptyPolicy is what answers before any policy is loaded: everything is
// denied and every well-formed fact may be stored.
func emptyPolicy() (*livePolicy, error) {
	prog, err := lang.Compile()
	if err != nil {
		return nil, fmt.Errorf("compiling the empty policy: %w", err)
	}
	return &livePolicy{prog: prog, eval: evaluator.New(prog)}, nil
}

// compilePolicy checks files as one policy and runs its tests on an
// isolated fact source. A policy that does not compile is an ast.ErrorList
// (422 invalid_policy); one whose tests fail is a 422 tests_failed.
func compilePolicy(ctx context.Context, files []store.PolicyFile) (*livePolicy, error) {
	srcs := make([]lang.Source, len(files))
	for i, f := range files {
		srcs[i] = lang.Source{Filename: f.Filename, Src: []byte(f.Src)}
	}
	prog, err := lang.Compile(srcs...)
	if err != nil {
		return nil, err
	}
	ev := evaluator.New(prog)
	if err := testsError(ev.RunTests(ctx)); err != nil {
		return nil, err
	}
	return &livePolicy{files: files, digest: digestFiles(files), prog: prog, eval: ev}, nil
}

// TestsFailedError reports a policy whose tests fail; the policy was not
// loaded. The API answers it with 422 tests_failed.
type TestsFailedError struct {
	// Results holds every test's result, passed ones included.
	Results []evaluator.TestResult
}

// Error lists every failed assertion, one per line:
// file:line:col: test "name": assertion: message.
func (e *TestsFailedError) Error() string {
	var b strings.Builder
	for _, d := range e.details() {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d:%d: test %q: %s", d.File, d.Line, d.Column, d.Test, d.Message)
	}
	return b.String()
}

// failed counts the tests that failed.
func (e *TestsFailedError) failed() int {
	n := 0
	for _, tr := range e.Results {
		if len(tr.Failures) > 0 || tr.Passed != tr.Total {
			n++
		}
	}
	return n
}

// testFailureDetail is one detail of a tests_failed error.
type testFailureDetail struct {
	Test    string `json:"test"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func (e *TestsFailedError) details() []testFailureDetail {
	var out []testFailureDetail
	for _, tr := range e.Results {
		for _, f := range tr.Failures {
			pos := f.Pos
			if !pos.IsValid() {
				pos = tr.Pos
			}
			msg := f.Assertion
			if f.Message != "" {
				msg += ": " + f.Message
			}
			out = append(out, testFailureDetail{Test: tr.Name, File: pos.File, Line: pos.Line, Column: pos.Col, Message: msg})
		}
		if len(tr.Failures) == 0 && tr.Passed != tr.Total {
			out = append(out, testFailureDetail{Test: tr.Name, File: tr.Pos.File, Line: tr.Pos.Line, Column: tr.Pos.Col,
				Message: fmt.Sprintf("%d of %d assertions passed", tr.Passed, tr.Total)})
		}
	}
	return out
}

// apiError is the 422 tests_failed answer.
func (e *TestsFailedError) apiError() *apiError {
	ds := e.details()
	details := make([]any, len(ds))
	for i, d := range ds {
		details[i] = d
	}
	msg := "policy tests failed"
	if len(ds) > 0 {
		d := ds[0]
		msg = fmt.Sprintf("%s:%d:%d: test %q failed: %s", d.File, d.Line, d.Column, d.Test, d.Message)
	}
	if n := e.failed(); n > 1 {
		msg += fmt.Sprintf(" (%d tests failed: see details)", n)
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Code: codeTestsFailed, Message: msg, Details: details, Err: e}
}

// testsError returns a *TestsFailedError when a test failed, or nil.
func testsError(results []evaluator.TestResult) error {
	e := &TestsFailedError{Results: results}
	if e.failed() == 0 {
		return nil
	}
	return e
}

// loadLivePolicy installs the store's live policy at start.
func (s *Server) loadLivePolicy(ctx context.Context) error {
	empty, err := emptyPolicy()
	if err != nil {
		return err
	}
	p, err := s.policies.LivePolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		s.live.Store(empty)
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading the live policy: %w", err)
	}
	lp, err := compilePolicy(ctx, p.Files)
	if err != nil {
		if tf, ok := errors.AsType[*TestsFailedError](err); ok {
			// The version was accepted once; keep it live but say so.
			s.log.Warn().Int64("version", p.Version).Str("failures", tf.Error()).Msg("the live policy's tests fail with this castellan")
			lp, err = compileOnly(p.Files)
		}
		if err != nil {
			return fmt.Errorf("the live policy (version %d) does not compile: %w", p.Version, err)
		}
	}
	lp.version = p.Version
	s.live.Store(lp)
	s.log.Info().Int64("version", p.Version).Msg("loaded the live policy")
	return nil
}

// compileOnly compiles files without running their tests.
func compileOnly(files []store.PolicyFile) (*livePolicy, error) {
	srcs := make([]lang.Source, len(files))
	for i, f := range files {
		srcs[i] = lang.Source{Filename: f.Filename, Src: []byte(f.Src)}
	}
	prog, err := lang.Compile(srcs...)
	if err != nil {
		return nil, err
	}
	return &livePolicy{files: files, digest: digestFiles(files), prog: prog, eval: evaluator.New(prog)}, nil
}

// LoadResult is what LoadPolicy did.
type LoadResult struct {
	// Version is the live version afterwards.
	Version int64
	// Changed is false when the files were the live policy already.
	Changed bool
}

// LoadPolicy checks files as one policy, runs its tests, saves it as a new
// version by createdBy and makes it live (atomically for requests in
// flight). When the files are the live policy already nothing changes.
// On any error the previous policy stays live; a policy that does not
// compile returns an ast.ErrorList, failing tests an error whose message
// names them.
func (s *Server) LoadPolicy(ctx context.Context, files []PolicyFile, createdBy string) (LoadResult, error) {
	if err := validatePolicyFiles(files); err != nil {
		return LoadResult{}, err
	}
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	cur := s.live.Load()
	if cur.version != 0 && cur.digest == digestFiles(files) {
		s.metrics.policy.WithLabelValues("unchanged").Inc()
		return LoadResult{Version: cur.version}, nil
	}
	lp, err := compilePolicy(ctx, files)
	if err != nil {
		s.metrics.policy.WithLabelValues("rejected").Inc()
		return LoadResult{}, err
	}
	saved, err := s.policies.SavePolicy(ctx, store.Policy{Files: files, CreatedBy: createdBy})
	if err != nil {
		return LoadResult{}, fmt.Errorf("saving the policy: %w", err)
	}
	lp.version = saved.Version
	s.live.Store(lp)
	s.metrics.policy.WithLabelValues("loaded").Inc()
	s.log.Info().Int64("version", saved.Version).Str("by", createdBy).Int("files", len(files)).Msg("policy loaded")
	return LoadResult{Version: saved.Version, Changed: true}, nil
}

// activate makes a stored version live again after re-checking it.
func (s *Server) activate(ctx context.Context, version int64) (store.Policy, error) {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	p, err := s.policies.GetPolicy(ctx, version)
	if err != nil {
		return store.Policy{}, err
	}
	lp, err := compilePolicy(ctx, p.Files)
	if err != nil {
		s.metrics.policy.WithLabelValues("rejected").Inc()
		return store.Policy{}, err
	}
	p, err = s.policies.ActivatePolicy(ctx, version)
	if err != nil {
		return store.Policy{}, err
	}
	lp.version = p.Version
	s.live.Store(lp)
	s.metrics.policy.WithLabelValues("loaded").Inc()
	s.log.Info().Int64("version", p.Version).Msg("policy version activated")
	return p, nil
}

// maxPolicyFiles bounds the number of files of one policy.
const maxPolicyFiles = 1000

// validatePolicyFiles checks filenames: present, unique.
func validatePolicyFiles(files []store.PolicyFile) error {
	if len(files) > maxPolicyFiles {
		return badRequest("files: %d files exceed the limit of %d", len(files), maxPolicyFiles)
	}
	seen := make(map[string]bool, len(files))
	for i, f := range files {
		if strings.TrimSpace(f.Filename) == "" {
			return badRequest("files[%d]: filename is required", i)
		}
		if seen[f.Filename] {
			return badRequest("files[%d]: filename %q appears twice", i, f.Filename)
		}
		seen[f.Filename] = true
	}
	return nil
}

// policyByVersion returns the live policy for version 0 (or the live
// version), else compiles the stored version.
func (s *Server) policyByVersion(ctx context.Context, version int64) (*livePolicy, error) {
	lp := s.live.Load()
	if version == 0 || version == lp.version {
		return lp, nil
	}
	if old := s.lastOld.Load(); old != nil && old.version == version {
		return old, nil
	}
	p, err := s.policies.GetPolicy(ctx, version)
	if err != nil {
		return nil, err
	}
	old, err := compileOnly(p.Files)
	if err != nil {
		return nil, err
	}
	old.version = p.Version
	s.lastOld.Store(old) // versions never change: keep the last one asked for
	return old, nil
}

// filenames lists a policy's filenames, in order.
func filenames(files []store.PolicyFile) []string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Filename
	}
	return names
}

// SyncPolicy makes the store's live policy version live here too, when it
// differs from the one this server answers under: another replica on the
// same database uploaded or activated a version. It reports whether the
// live policy changed.
func (s *Server) SyncPolicy(ctx context.Context) (bool, error) {
	p, err := s.policies.LivePolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p.Version == s.live.Load().version {
		return false, nil
	}
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if p.Version == s.live.Load().version {
		return false, nil
	}
	// The version passed its tests when it was saved; only compile it.
	lp, err := compileOnly(p.Files)
	if err != nil {
		return false, fmt.Errorf("the live policy (version %d) does not compile: %w", p.Version, err)
	}
	lp.version = p.Version
	s.live.Store(lp)
	s.metrics.policy.WithLabelValues("synced").Inc()
	s.log.Info().Int64("version", p.Version).Msg("policy version made live by another server")
	return true, nil
}

// FollowPolicy calls SyncPolicy every interval until ctx is done, so that
// replicas on one database answer under the same policy within about one
// interval of an upload or rollback. Errors are logged.
func (s *Server) FollowPolicy(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.SyncPolicy(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("following the live policy")
		}
	}
}
