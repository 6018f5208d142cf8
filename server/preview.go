package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/shadow"
	"github.com/castellan-authz/castellan/store"
)

// candidate is a policy sent to be evaluated without going live: the
// files of an upload (Oso's {filename, src} or {files}).
type candidate struct {
	Filename *string          `json:"filename"`
	Src      *string          `json:"src"`
	Files    []policyFileJSON `json:"files"`
}

// compile validates, compiles and tests the candidate (policy.Compile).
func (c candidate) compile(r *http.Request) (*policy.Compiled, error) {
	files, err := policyUpload{Filename: c.Filename, Src: c.Src, Files: c.Files}.files()
	if err != nil {
		return nil, err
	}
	if err := policy.ValidateFiles(files); err != nil {
		return nil, err
	}
	return policy.Compile(r.Context(), files)
}

// previewRequest is the body of POST /api/policy/preview.
type previewRequest struct {
	candidate
	// Limit is how many of the last decisions to replay.
	Limit int `json:"limit"`
	// Decisions, when set, are the records to replay (lines of a decision
	// log) instead of the server's log.
	Decisions []json.RawMessage `json:"decisions"`
}

type previewResponse struct {
	LiveVersion   int64           `json:"live_version"`
	Decisions     int             `json:"decisions"`
	Replayed      int             `json:"replayed"`
	Changed       int             `json:"changed"`
	Changes       []previewChange `json:"changes"`
	Skipped       []previewSkip   `json:"skipped"`
	ContextHashed int             `json:"context_hashed"`
	Errors        int             `json:"errors"`
	FirstError    string          `json:"first_error,omitempty"`
	Notes         []string        `json:"notes"`
}

// ruleOut is a rule an explanation names.
type ruleOut struct {
	Text     string `json:"text"`
	Position string `json:"position"`
}

type previewChange struct {
	Endpoint      string   `json:"endpoint"`
	Actor         outValue `json:"actor"`
	Action        string   `json:"action"`
	Resource      outValue `json:"resource"`
	Before        string   `json:"before"`
	After         string   `json:"after"`
	Rule          *ruleOut `json:"rule,omitempty"`
	Fact          string   `json:"fact,omitempty"`
	Count         int      `json:"count"`
	Time          string   `json:"time,omitempty"`
	ContextHashed bool     `json:"context_hashed,omitempty"`
}

type previewSkip struct {
	Endpoint string `json:"endpoint"`
	Count    int    `json:"count"`
	Reason   string `json:"reason"`
}

func outcome(allowed bool) string {
	if allowed {
		return audit.OutcomeAllowed
	}
	return audit.OutcomeDenied
}

func toRuleOut(r *evaluator.RuleUse) *ruleOut {
	if r == nil {
		return nil
	}
	return &ruleOut{Text: r.Text, Position: r.Position}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (s *Server) handlePreviewPolicy(w http.ResponseWriter, r *http.Request) {
	var req previewRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Limit < 0 || req.Limit > shadow.MaxDecisions {
		writeError(w, r, badRequest("limit: %d is not between 1 and %d", req.Limit, shadow.MaxDecisions))
		return
	}
	cand, err := req.compile(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	recs, err := s.previewRecords(r, req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	snap, err := s.store.Snapshot(r.Context(), store.Consistency{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Records of this server's own log keep what its configuration says.
	notKept := req.Decisions == nil && s.auditCfg.ContextFacts == audit.ContextNone
	rep, err := shadow.Replay(r.Context(), shadow.Input{Live: s.policies.Live(), Candidate: cand, Facts: snap, Records: recs, ContextNotKept: notKept})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPreviewResponse(rep))
}

// previewRecords returns the records a preview replays: those sent, or
// the last of the server's decision log.
func (s *Server) previewRecords(r *http.Request, req previewRequest) ([]audit.Record, error) {
	if req.Decisions != nil {
		if len(req.Decisions) > shadow.MaxDecisions {
			return nil, errorf(http.StatusBadRequest, codeLimitExceeded, "decisions: %d records exceed the limit of %d", len(req.Decisions), shadow.MaxDecisions)
		}
		if req.Limit > 0 && len(req.Decisions) > req.Limit {
			req.Decisions = req.Decisions[:req.Limit] // the first limit records, as sent (newest first)
		}
		lines := make([][]byte, len(req.Decisions))
		for i, d := range req.Decisions {
			lines[i] = d
		}
		recs, err := shadow.ParseRecords(lines)
		if errors.Is(err, shadow.ErrBadRecord) {
			return nil, badRequest("%s", err.Error())
		}
		return recs, err
	}
	if s.auditCfg.Search == nil {
		return nil, badRequest("this server keeps no decision log it can search (configure audit: {log: FILE} or the PostgreSQL sink), so there is nothing to replay; send the records to replay in decisions")
	}
	return shadow.LastDecisions(r.Context(), s.auditCfg.Search, req.Limit, audit.Query{})
}

func toPreviewResponse(rep *shadow.Report) previewResponse {
	out := previewResponse{LiveVersion: rep.LiveVersion, Decisions: rep.Decisions, Replayed: rep.Replayed, Changed: len(rep.Changes),
		Changes: []previewChange{}, Skipped: []previewSkip{}, ContextHashed: rep.ContextHashed, Errors: rep.Errors,
		FirstError: rep.FirstError, Notes: rep.Notes}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	for _, c := range rep.Changes {
		out.Changes = append(out.Changes, previewChange{Endpoint: c.Endpoint, Actor: toOutValue(c.Actor), Action: c.Action,
			Resource: toOutValue(c.Resource), Before: outcome(c.Before), After: outcome(c.After), Rule: toRuleOut(c.Rule),
			Fact: c.Fact, Count: c.Count, Time: formatTime(c.Time), ContextHashed: c.ContextHashed})
	}
	for _, sk := range rep.Skipped {
		out.Skipped = append(out.Skipped, previewSkip{Endpoint: sk.Endpoint, Count: sk.Count, Reason: sk.Reason})
	}
	return out
}

// shadowRequest is the body of POST /admin/v1/policy/shadow.
type shadowRequest struct {
	candidate
	// Duration is how long the run lasts, as a Go duration ("10m").
	Duration string `json:"duration"`
}

type shadowStatusOut struct {
	Active         bool                `json:"active"`
	Started        string              `json:"started"`
	Ends           string              `json:"ends"`
	Stopped        string              `json:"stopped,omitempty"`
	LiveVersion    int64               `json:"live_version"`
	CandidateFiles []string            `json:"candidate_files"`
	Offered        uint64              `json:"offered"`
	Same           uint64              `json:"same"`
	Different      uint64              `json:"different"`
	Dropped        uint64              `json:"dropped"`
	Errors         uint64              `json:"errors"`
	Recent         []shadowDifferenceO `json:"recent"`
}

type shadowDifferenceO struct {
	Time     string   `json:"time"`
	Endpoint string   `json:"endpoint"`
	Actor    outValue `json:"actor"`
	Action   string   `json:"action"`
	Resource outValue `json:"resource"`
	Live     string   `json:"live"`
	Shadow   string   `json:"shadow"`
	Rule     *ruleOut `json:"rule,omitempty"`
	Fact     string   `json:"fact,omitempty"`
}

func toShadowStatus(run *shadow.Runner) shadowStatusOut {
	st := run.Status()
	out := shadowStatusOut{Active: st.Active, Started: formatTime(st.Started), Ends: formatTime(st.Ends), Stopped: formatTime(st.Stopped),
		LiveVersion: st.LiveVersion, CandidateFiles: filenames(run.Candidate().Files()), Offered: st.Counts.Offered,
		Same: st.Counts.Same, Different: st.Counts.Different, Dropped: st.Counts.Dropped, Errors: st.Counts.Errors,
		Recent: []shadowDifferenceO{}}
	for _, d := range st.Recent {
		out.Recent = append(out.Recent, shadowDifferenceO{Time: formatTime(d.Time), Endpoint: d.Endpoint, Actor: toOutValue(d.Actor),
			Action: d.Action, Resource: toOutValue(d.Resource), Live: outcome(d.Live), Shadow: outcome(!d.Live),
			Rule: toRuleOut(d.Rule), Fact: d.Fact})
	}
	return out
}

func (s *Server) handleStartShadow(w http.ResponseWriter, r *http.Request) {
	var req shadowRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 || d > shadow.MaxDuration {
		writeError(w, r, badRequest("duration: %q is not a duration between 1s and %s (such as \"10m\")", req.Duration, shadow.MaxDuration))
		return
	}
	cand, err := req.compile(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	log := s.log
	run := shadow.Start(cand, s.policies.Live().Version(), d, shadow.Options{
		Observe: func(result string) { s.metrics.shadow.WithLabelValues(result).Inc() },
		OnDifference: func(diff shadow.Difference) {
			ev := log.Info().Str("endpoint", diff.Endpoint).Str("actor", diff.Actor.String()).Str("action", diff.Action).
				Str("resource", diff.Resource.String()).Str("live", outcome(diff.Live)).Str("shadow", outcome(!diff.Live))
			if diff.Rule != nil {
				ev = ev.Str("rule", diff.Rule.Text).Str("rule_position", diff.Rule.Position)
			}
			ev.Msg("shadow policy decides differently")
		},
	})
	if old := s.shadowRun.Swap(run); old != nil {
		old.Stop()
	}
	s.log.Info().Strs("files", filenames(cand.Files())).Dur("duration", d).Str("by", callerFrom(r.Context()).ID).Msg("shadow policy run started")
	writeJSON(w, http.StatusOK, toShadowStatus(run))
}

// noShadow is the 404 of the shadow routes when no run was started.
func noShadow() error {
	return errorf(http.StatusNotFound, codeNotFound, "no shadow run: start one with POST /admin/v1/policy/shadow (castellan policy shadow FILE --for 10m)")
}

func (s *Server) handleShadowStatus(w http.ResponseWriter, r *http.Request) {
	run := s.shadowRun.Load()
	if run == nil {
		writeError(w, r, noShadow())
		return
	}
	writeJSON(w, http.StatusOK, toShadowStatus(run))
}

func (s *Server) handleStopShadow(w http.ResponseWriter, r *http.Request) {
	run := s.shadowRun.Swap(nil)
	if run == nil {
		writeError(w, r, noShadow())
		return
	}
	run.Stop()
	writeJSON(w, http.StatusOK, toShadowStatus(run))
}

// offerShadow gives an authorize answered under live over req to the
// shadow run, if there is one; it never blocks.
func (s *Server) offerShadow(live *policy.Compiled, req evaluator.Request, endpoint string, actor term.Value, action string, resource term.Value, allowed bool) {
	run := s.shadowRun.Load()
	if run == nil {
		return
	}
	run.Offer(shadow.Item{Live: live, Source: req.Source, Context: req.Context, Actor: actor, Action: action,
		Resource: resource, Allowed: allowed, Endpoint: endpoint})
}
