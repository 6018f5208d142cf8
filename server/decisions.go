package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/castellan-authz/castellan/audit"
)

// decisionsOut is the answer of GET /admin/v1/decisions: the records as
// the log holds them (with "replica" first on the PostgreSQL sink),
// newest first.
type decisionsOut struct {
	Decisions     []json.RawMessage `json:"decisions"`
	NextPageToken string            `json:"next_page_token,omitempty"`
}

// handleDecisions searches the decision log: GET /admin/v1/decisions with
// since, until (RFC 3339), caller, actor, action, resource (Type or
// Type:id), result (allowed, denied, error), policy_version, limit and
// page_token.
func (s *Server) handleDecisions(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.recorder == nil:
		writeError(w, r, badRequest("no decision log is configured: start the server with --audit-log FILE or --audit-postgres"))
		return
	case s.auditCfg.Search == nil:
		writeError(w, r, badRequest("the decision log goes to standard output, which cannot be searched: use --audit-log FILE or --audit-postgres"))
		return
	}
	v := r.URL.Query()
	q := audit.Query{
		Caller: v.Get("caller"), Actor: v.Get("actor"), Action: v.Get("action"),
		Resource: v.Get("resource"), Result: v.Get("result"), PageToken: v.Get("page_token"),
	}
	var err error
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if p := v.Get(t.name); p != "" {
			if *t.dst, err = time.Parse(time.RFC3339Nano, p); err != nil {
				writeError(w, r, badRequest("%s: %q is not an RFC 3339 time", t.name, p))
				return
			}
		}
	}
	if p := v.Get("policy_version"); p != "" {
		if q.PolicyVersion, err = strconv.ParseInt(p, 10, 64); err != nil || q.PolicyVersion <= 0 {
			writeError(w, r, badRequest("policy_version: %q is not a positive integer", p))
			return
		}
	}
	if p := v.Get("limit"); p != "" {
		if q.Limit, err = strconv.Atoi(p); err != nil || q.Limit <= 0 {
			writeError(w, r, badRequest("limit: %q is not a positive integer", p))
			return
		}
	}
	if err := q.Check(); err != nil {
		writeError(w, r, badRequest("%v", err))
		return
	}
	page, err := s.auditCfg.Search.Decisions(r.Context(), q)
	if errors.Is(err, audit.ErrBadPageToken) {
		writeError(w, r, badRequest("page_token: %v", err))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := decisionsOut{Decisions: make([]json.RawMessage, len(page.Decisions)), NextPageToken: page.NextPageToken}
	for i, e := range page.Decisions {
		out.Decisions[i] = withReplica(e)
	}
	writeJSON(w, http.StatusOK, out)
}

// withReplica is e's line with "replica" as its first member when e has one.
func withReplica(e audit.Entry) json.RawMessage {
	if e.Replica == "" || !bytes.HasPrefix(e.Line, []byte("{")) {
		return e.Line
	}
	name, _ := json.Marshal(e.Replica)
	b := make([]byte, 0, len(e.Line)+len(name)+12)
	b = append(append(append(b, `{"replica":`...), name...), ',')
	return append(b, e.Line[1:]...)
}
