package server

import (
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/server/ui"
)

// TestValidatePolicy: the validate endpoint reports errors with position and
// hint, warnings, and the result of every test block, and changes nothing.
func TestValidatePolicy(t *testing.T) {
	e := newAdminEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	before := e.liveVersion()

	typo := strings.Replace(testPolicy, `"read" if "reader";`, `"read" if "reeder";`, 1)
	failing := testPolicy + `
test "bob reads" {
  assert allow(User{"bob"}, "read", Organization{"acme"});
}
`
	tests := []struct {
		name       string
		src        string
		valid      bool
		errAt      string // "line:col" of the first error, "" for none
		hint       string
		testsRun   int
		failedTest string
	}{
		{name: "valid", src: testPolicy, valid: true, testsRun: 1},
		{name: "typo", src: typo, errAt: "15:13", hint: "reader"},
		{name: "failing test", src: failing, testsRun: 2, failedTest: "bob reads"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out validationOut
			e.must(t, http.StatusOK, http.MethodPost, "/api/policy/validate", map[string]any{"filename": "p.polar", "src": tc.src}).json(t, &out)
			if out.Valid != tc.valid {
				t.Errorf("valid = %v, want %v: %+v", out.Valid, tc.valid, out)
			}
			if tc.errAt == "" && len(out.Errors) > 0 {
				t.Errorf("errors = %+v, want none", out.Errors)
			}
			if tc.errAt != "" {
				if len(out.Errors) == 0 {
					t.Fatalf("no errors, want one at %s", tc.errAt)
				}
				got := out.Errors[0]
				if at := fmt.Sprintf("%d:%d", got.Line, got.Column); at != tc.errAt || got.File != "p.polar" || !strings.Contains(got.Hint, tc.hint) {
					t.Errorf("first error = %+v, want at p.polar:%s with a hint naming %q", got, tc.errAt, tc.hint)
				}
			}
			if len(out.Tests) != tc.testsRun {
				t.Errorf("tests = %+v, want %d", out.Tests, tc.testsRun)
			}
			for _, tr := range out.Tests {
				failed := tr.Passed != tr.Total
				if failed != (tr.Name == tc.failedTest) {
					t.Errorf("test %q: %d of %d passed (failures %+v)", tr.Name, tr.Passed, tr.Total, tr.Failures)
				}
				if failed && (len(tr.Failures) == 0 || tr.Failures[0].Line == 0) {
					t.Errorf("test %q failed without a positioned failure: %+v", tr.Name, tr.Failures)
				}
			}
		})
	}
	if e.liveVersion() != before {
		t.Errorf("validate changed the live policy: version %d, was %d", e.liveVersion(), before)
	}

	// Bad input: 400, and the scope is admin's.
	if res := e.do(t, http.MethodPost, "/api/policy/validate", map[string]any{"filename": "p.polar"}); res.status != http.StatusBadRequest {
		t.Errorf("no src: %d %s, want 400", res.status, res.body)
	}
	if res := e.do(t, http.MethodPost, "/api/policy/validate", map[string]any{"src": "", "force": true}); res.status != http.StatusBadRequest {
		t.Errorf("force: %d %s, want 400 (not an upload)", res.status, res.body)
	}
	var key struct {
		Key string `json:"key"`
	}
	e.must(t, http.StatusCreated, http.MethodPost, "/admin/v1/keys", map[string]any{"name": "reader", "scope": "read"}).json(t, &key)
	read := key.Key
	if res := e.do(t, http.MethodPost, "/api/policy/validate", map[string]any{"src": testPolicy}, "Authorization", "Bearer "+read); res.status != http.StatusForbidden {
		t.Errorf("a read key: %d, want 403", res.status)
	}
}

// TestPolicyMetadataPredicates: ?predicates=true adds the storable
// predicates and the rules that use each; without it the answer is Oso's.
func TestPolicyMetadataPredicates(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	var plain map[string]map[string]any
	e.must(t, http.StatusOK, http.MethodGet, "/api/policy_metadata", nil).json(t, &plain)
	if _, ok := plain["metadata"]["predicates"]; ok {
		t.Errorf("predicates sent unasked: %v", plain)
	}
	var out struct {
		Metadata metadataOut `json:"metadata"`
	}
	e.must(t, http.StatusOK, http.MethodGet, "/api/policy_metadata?predicates=true", nil).json(t, &out)
	var positions []string
	for _, u := range out.Metadata.Predicates["has_relation"] {
		positions = append(positions, u.Position+" "+u.Source)
	}
	want := []string{`policy.polar:18:3 "reader" if "member" on "parent";`}
	if diff := cmp.Diff(want, positions); diff != "" {
		t.Errorf("has_relation used by (-want +got):\n%s", diff)
	}
	if len(out.Metadata.Predicates["has_role"]) < 3 {
		t.Errorf("has_role used by %+v, want every role rule", out.Metadata.Predicates["has_role"])
	}
}

// TestFactsPaging: GET /api/facts pages with page_size and the
// Castellan-Next-Page-Token header, every fact once.
func TestFactsPaging(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		e.insert(t, fact("has_role", "User:"+u, "String:owner", "Organization:acme"))
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		path := "/api/facts?predicate=has_role&page_size=2"
		if token != "" {
			path += "&page_token=" + token
		}
		res := e.must(t, http.StatusOK, http.MethodGet, path, nil)
		var facts []outFact
		res.json(t, &facts)
		for _, f := range facts {
			got = append(got, f.Args[0].ID)
		}
		if token = res.header.Get(headerNextPageToken); token == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, got); diff != "" {
		t.Errorf("paged facts (-want +got):\n%s", diff)
	}
	for _, q := range []string{"page_size=0", "page_size=x", "page_token=2", "page_size=2&page_token=-1"} {
		if res := e.do(t, http.MethodGet, "/api/facts?"+q, nil); res.status != http.StatusBadRequest {
			t.Errorf("GET /api/facts?%s = %d, want 400", q, res.status)
		}
	}
	if res := e.do(t, http.MethodGet, "/admin/v1/facts/export?page_size=2", nil); res.status != http.StatusBadRequest {
		t.Errorf("export with page_size = %d, want 400 (not paged)", res.status)
	}
}

// TestConsoleRendersText: the console's code never puts strings into the
// page as HTML (ids and policy text are data), and never runs strings as
// code; the browser test shows it with a hostile fact id.
func TestConsoleRendersText(t *testing.T) {
	console, err := ui.Console()
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(console, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		src, err := fs.ReadFile(console, path)
		if err != nil {
			return err
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage"} {
			if strings.Contains(string(src), bad) {
				t.Errorf("console %s uses %s", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
