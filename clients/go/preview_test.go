package castellan_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const (
	clientLive = `actor User {}
resource Doc {
  roles = ["viewer"];
  permissions = ["view", "edit"];
  "view" if "viewer";
}
`
	clientCandidate = `actor User {}
resource Doc {
  roles = ["viewer"];
  permissions = ["view", "edit"];
  "view" if "viewer";
  "edit" if "viewer";
}
`
)

// TestPolicyLifecycleAgainstServer drives the data check, preview and
// shadow calls through the real server.
func TestPolicyLifecycleAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	alice, d1 := castellan.Entity("User", "alice"), castellan.Entity("Doc", "d1")
	if _, err := c.UploadPolicy(ctx, castellan.PolicyFile{Filename: "live.polar", Src: clientLive}); err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(ctx, castellan.NewFact("has_role", alice, castellan.String("viewer"), d1)); err != nil {
		t.Fatal(err)
	}

	// Data check: strict refuses a policy that leaves has_role unused.
	_, err := c.UploadPolicyWith(ctx, castellan.UploadOptions{Strict: true}, castellan.PolicyFile{Filename: "p.polar", Src: "actor User {}\nallow(_: User, \"view\", _: Doc);\n"})
	var ce *castellan.Error
	if !errors.As(err, &ce) || ce.Code != "unusable_facts" || len(ce.Details) != 1 || ce.Details[0].Predicate != "has_role" || ce.Details[0].Count != 1 || !ce.Details[0].Unused {
		t.Fatalf("strict upload: %v (%+v)", err, ce)
	}
	res, err := c.UploadPolicyWith(ctx, castellan.UploadOptions{DataCheck: true}, castellan.PolicyFile{Filename: "live.polar", Src: clientLive + "# again\n"})
	if err != nil || res.DataCheck == nil || res.DataCheck.Facts != 1 || res.DataCheck.Unusable != 0 {
		t.Fatalf("upload with data check: %+v, %v", res, err)
	}

	// Preview of records given by the caller.
	rec := `{"kind":"decision","time":"2026-12-05T10:00:00Z","endpoint":"authorize","actor":{"type":"User","id":"alice"},"action":"edit","resource":{"type":"Doc","id":"d1"},"allowed":false,"policy_version":1,"revision":1,"latency_ns":1}`
	p, err := c.PreviewPolicy(ctx, castellan.PreviewOptions{Decisions: []json.RawMessage{json.RawMessage(rec)}}, castellan.PolicyFile{Filename: "candidate.polar", Src: clientCandidate})
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed != 1 || p.Replayed != 1 || p.Changes[0].Actor != alice || p.Changes[0].Before != "denied" || p.Changes[0].After != "allowed" ||
		p.Changes[0].Rule == nil || p.Changes[0].Rule.Position != "candidate.polar:6:3" || !p.Changes[0].Time.Equal(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("preview: %+v", p)
	}

	// Shadow.
	if _, err := c.Shadow(ctx); !errors.As(err, &ce) || ce.StatusCode != 404 {
		t.Fatalf("Shadow before a run: %v", err)
	}
	st, err := c.StartShadow(ctx, 10*time.Minute, castellan.PolicyFile{Filename: "candidate.polar", Src: clientCandidate})
	if err != nil || !st.Active || !st.Ends.After(st.Started) {
		t.Fatalf("StartShadow: %+v, %v", st, err)
	}
	if d, err := c.Authorize(ctx, alice, "edit", d1); err != nil || d.Allowed {
		t.Fatalf("authorize under shadow: %+v, %v; want the live answer (denied)", d, err)
	}
	for st.Different == 0 {
		if st, err = c.Shadow(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no difference counted: %+v", st)
		case <-time.After(5 * time.Millisecond):
		}
	}
	st, err = c.StopShadow(ctx)
	if err != nil || st.Active || st.Different != 1 || len(st.Recent) != 1 || st.Recent[0].Shadow != "allowed" || !strings.HasSuffix(st.Recent[0].Rule.Text, `"edit" if "viewer";`) {
		t.Errorf("StopShadow: %+v, %v", st, err)
	}
}
