package castellan_test

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// The application of the local-authorization tests (localauth/testdata):
// issues in repositories, organizations, nested folders, public issues,
// a god rule; its relations are read from the application's database.
const localTestdata = "../../localauth/testdata/"

func readTestdata(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(localTestdata + name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestLocalAgainstServer asks the four local-authorization endpoints
// through the client. The SQL is run on PostgreSQL by localauth's and
// compat's tests; here the shapes, the request ids and the errors count.
func TestLocalAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	localBindings := readTestdata(t, "app.yaml")
	if _, err := c.UploadPolicy(ctx, castellan.PolicyFile{Filename: "app.polar", Src: readTestdata(t, "app.polar")}); err != nil {
		t.Fatal(err)
	}
	alice, god := castellan.Entity("User", "alice"), castellan.Entity("User", "zeus")
	repo := castellan.Entity("Repository", "7")
	if err := c.Insert(ctx, castellan.NewFact("has_role", alice, castellan.String("reader"), repo)); err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(ctx, castellan.NewFact("is_god", god)); err != nil {
		t.Fatal(err)
	}
	issue := castellan.Entity("Issue", "3")

	wantSQL := func(what string, r castellan.LocalResult, err error, parts ...string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, p := range parts {
			if !strings.Contains(r.SQL, p) {
				t.Errorf("%s: SQL does not contain %q:\n%s", what, p, r.SQL)
			}
		}
		if r.RequestID == "" {
			t.Errorf("%s: no X-Request-ID", what)
		}
	}
	r, err := c.AuthorizeLocal(ctx, localBindings, alice, "read", issue)
	wantSQL("AuthorizeLocal(alice)", r, err, "SELECT id, repository_id FROM issues", "f1.arg0 = 3", "7", "AS allowed")
	r, err = c.AuthorizeLocal(ctx, localBindings, god, "read", issue)
	wantSQL("AuthorizeLocal(god)", r, err)
	if r.SQL != "SELECT true AS allowed" {
		t.Errorf("AuthorizeLocal(god) = %q, want SELECT true AS allowed", r.SQL)
	}
	r, err = c.AuthorizeLocal(ctx, localBindings, castellan.Entity("User", "bob"), "read", issue,
		castellan.WithContextFacts(castellan.NewFact("has_role", castellan.Entity("User", "bob"), castellan.String("reader"), castellan.Entity("Repository", "9"))))
	wantSQL("AuthorizeLocal(bob, context fact)", r, err, "9")
	r, err = c.ListLocal(ctx, localBindings, alice, "read", "Issue", "issues.id")
	wantSQL("ListLocal", r, err, "issues.id = ANY (ARRAY(")
	r, err = c.ActionsLocal(ctx, localBindings, alice, issue)
	wantSQL("ActionsLocal", r, err, "AS actions", "'comment'", "'read'")

	q := castellan.Query{
		Predicate: castellan.Call{Name: "allow", Args: []string{"u", "a", "i"}},
		Constraints: map[string]castellan.Constraint{
			"u": {Type: "User"}, "a": {Type: "String", IDs: []string{"read"}}, "i": {Type: "Issue", IDs: []string{"3"}},
		},
	}
	r, err = c.EvaluateLocalSelect(ctx, localBindings, q, map[string]string{"u": "user_id"})
	wantSQL("EvaluateLocalSelect", r, err, `"user_id"`)
	r, err = c.EvaluateLocalSelect(ctx, localBindings, q, nil)
	wantSQL("EvaluateLocalSelect(no columns)", r, err, "AS result")
	r, err = c.EvaluateLocalFilter(ctx, localBindings, q, "users.id", "u")
	wantSQL("EvaluateLocalFilter", r, err, "users.id")

	// Errors: the client refuses what it can check, the server the rest
	// with a 400 whose message says what is wrong.
	if _, err := c.AuthorizeLocal(ctx, "  ", alice, "read", issue); err == nil {
		t.Error("AuthorizeLocal with empty bindings: no error")
	}
	if _, err := c.ListLocal(ctx, localBindings, alice, "read", "Issue", ""); err == nil {
		t.Error("ListLocal without a column: no error")
	}
	if _, err := c.ActionsLocal(ctx, localBindings, castellan.AnyOf("User"), issue); err == nil {
		t.Error("ActionsLocal with a wildcard actor: no error")
	}
	for _, tc := range []struct {
		name, bindings, column, want string
	}{
		{"unknown predicate", "facts:\n  is_shiny(Issue:_):\n    query: SELECT id FROM issues\n", "issues.id", "is_shiny"},
		{"not YAML", "facts: [", "issues.id", "not valid YAML"},
		{"bad column", localBindings, "id; drop table issues", "not a column name"},
	} {
		_, err := c.ListLocal(ctx, tc.bindings, alice, "read", "Issue", tc.column)
		var ce *castellan.Error
		if !errors.As(err, &ce) || ce.StatusCode != http.StatusBadRequest || !strings.Contains(ce.Message, tc.want) {
			t.Errorf("%s: %v, want a 400 mentioning %q", tc.name, err, tc.want)
		}
	}
}
