package compat

// The Go SDK (github.com/osohq/go-oso-cloud v2) cannot be fetched through
// the module proxy, so this file replays, request for request, what its
// integration tests (oso_test.go, query_test.go, types_test.go,
// parity_handle_test.go, fallback_test.go) send to an Oso dev server and
// asserts, on the wire, what those tests assert of the answers. The client
// below builds each request the way the SDK's api.go does: the same paths,
// JSON bodies and headers (X-OsoApiVersion, X-Request-ID, X-Oso-Instance-Id),
// the OsoOffset of the last write echoed on every later request, and any
// non-2xx answer read as {"message": ...}. Query rows are decoded into
// map[string]string as the SDK does, so a JSON null becomes "" and then the
// SDK's "*".

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	castellan "github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// sdkValue is a concrete value as the Go SDK sends it.
type sdkValue struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// sdkPatternValue is one argument of a fact pattern: nil fields are sent
// as JSON null (a wildcard).
type sdkPatternValue struct {
	Type *string `json:"type"`
	ID   *string `json:"id"`
}

type sdkFact struct {
	Predicate string     `json:"predicate"`
	Args      []sdkValue `json:"args"`
}

type sdkPattern struct {
	Predicate string            `json:"predicate"`
	Args      []sdkPatternValue `json:"args"`
}

type sdkInserts struct {
	Inserts []sdkFact `json:"inserts"`
}

type sdkDeletes struct {
	Deletes []sdkPattern `json:"deletes"`
}

type sdkMessage struct {
	Message string `json:"message"`
}

type sdkMetadata struct {
	Metadata struct {
		Resources map[string]sdkResourceMetadata `json:"resources"`
	} `json:"metadata"`
}

type sdkResourceMetadata struct {
	Permissions []string          `json:"permissions"`
	Roles       []string          `json:"roles"`
	Relations   map[string]string `json:"relations"`
}

func val(typ, id string) sdkValue { return sdkValue{Type: typ, ID: id} }
func str(s string) sdkValue       { return val("String", s) }

func fact(pred string, args ...sdkValue) sdkFact {
	return sdkFact{Predicate: pred, Args: args}
}

// anyArg matches any value (the SDK's nil pattern argument).
func anyArg() sdkPatternValue { return sdkPatternValue{} }

func exact(v sdkValue) sdkPatternValue {
	t, id := v.Type, v.ID
	return sdkPatternValue{Type: &t, ID: &id}
}

func ofType(typ string) sdkPatternValue { return sdkPatternValue{Type: &typ} }

func pattern(pred string, args ...sdkPatternValue) sdkPattern {
	return sdkPattern{Predicate: pred, Args: args}
}

// asPattern is the SDK's Fact.intoFactPattern: every argument exact.
func asPattern(f sdkFact) sdkPattern {
	p := sdkPattern{Predicate: f.Predicate}
	for _, a := range f.Args {
		p.Args = append(p.Args, exact(a))
	}
	return p
}

// goSDK is one SDK client (OsoClientImpl) talking to a server.
type goSDK struct {
	t          *testing.T
	base       string
	instanceID string
	lastOffset string
	// lastRequestID is the X-Request-ID the last answer carried.
	lastRequestID string
}

// sdkError is a non-2xx answer, as the SDK reports it.
type sdkError struct {
	status  int
	message string
}

func (e *sdkError) Error() string {
	return fmt.Sprintf("Oso Cloud error: %s (HTTP %d)", e.message, e.status)
}

// newSDKServer starts Castellan in dev mode on a fresh memory store and
// returns its base URL.
func newSDKServer(t *testing.T) string {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	return newSDKServerOn(t, st)
}

// newSDKServerOn starts Castellan in dev mode on st.
func newSDKServerOn(t *testing.T, st store.Backend) string {
	t.Helper()
	cfg := castellan.DefaultConfig()
	cfg.Dev = true
	srv, err := castellan.New(t.Context(), cfg, st)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

// newGoSDK is NewClient(base, token): a new instance id, no offset yet.
func newGoSDK(t *testing.T, base string) *goSDK {
	return &goSDK{t: t, base: base, instanceID: uuid()}
}

// sdkScenario is one SDK integration test.
type sdkScenario struct {
	name string
	run  func(t *testing.T, c *goSDK)
}

// goSDKv2Suite is the v2 SDK's tests in the order `go test` runs them:
// files in name order (fallback_test.go, oso_test.go,
// parity_handle_test.go, query_test.go, types_test.go), tests in source
// order.
func goSDKv2Suite() []sdkScenario {
	out := []sdkScenario{
		{"FallbackTarget", sdkFallbackTarget},
		{"Everything", sdkEverything},
		{"APIError", sdkAPIError},
		{"RequestBodyTooBig", sdkRequestBodyTooBig},
		{"Batch", sdkBatch},
		{"ContextFacts", sdkContextFacts},
		{"PolicyMetadata", sdkPolicyMetadata},
		{"ParityHandle", sdkParityHandle},
	}
	out = append(out, queryScenarios()...)
	return append(out,
		sdkScenario{"BuiltinTypes", sdkBuiltinTypes},
		sdkScenario{"LocalAuthorization", sdkLocalAuthorization},
		sdkScenario{"Offset", sdkOffset},
	)
}

// goSDKv1Suite is the v1 SDK's oso_test.go in source order.
func goSDKv1Suite() []sdkScenario {
	return []sdkScenario{
		{"v1/Everything", sdkV1Everything},
		{"v1/BulkFacts", sdkV1BulkFacts},
		{"v1/AuthorizeResources", sdkV1AuthorizeResources},
		{"v1/Query", sdkV1Query},
		{"v1/BulkActions", sdkV1BulkActions},
		{"v1/PolicyMetadata", sdkPolicyMetadata},
		{"v1/Fallback", sdkV1Fallback},
	}
}

// TestGoSDK runs every scenario on a server of its own.
func TestGoSDK(t *testing.T) {
	for _, sc := range append(goSDKv2Suite(), goSDKv1Suite()...) {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, newGoSDK(t, newSDKServer(t)))
		})
	}
}

// TestGoSDKPostgres runs each suite on one server on PostgreSQL (skipped
// without CASTELLAN_TEST_DATABASE_URL, see scripts/with-postgres).
func TestGoSDKPostgres(t *testing.T) {
	for _, suite := range []struct {
		name      string
		scenarios []sdkScenario
	}{{"v2", goSDKv2Suite()}, {"v1", goSDKv1Suite()}} {
		t.Run(suite.name, func(t *testing.T) {
			st, err := postgres.Open(t.Context(), pgtest.NewDatabase(t), postgres.Options{WaitTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("postgres.Open: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			base := newSDKServerOn(t, st)
			for _, sc := range suite.scenarios {
				t.Run(sc.name, func(t *testing.T) { sc.run(t, newGoSDK(t, base)) })
			}
		})
	}
}

// TestGoSDKOneServer runs each suite on one server, as the SDK's CI does
// against one dev server: every test a new client, the data and policy
// left by the tests before it.
func TestGoSDKOneServer(t *testing.T) {
	for _, suite := range []struct {
		name      string
		scenarios []sdkScenario
	}{{"v2", goSDKv2Suite()}, {"v1", goSDKv1Suite()}} {
		t.Run(suite.name, func(t *testing.T) {
			base := newSDKServer(t)
			for _, sc := range suite.scenarios {
				t.Run(sc.name, func(t *testing.T) { sc.run(t, newGoSDK(t, base)) })
			}
		})
	}
}

// uuid returns a random version 4 UUID, as the SDK sends in X-Request-ID.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// rawBody is a request body sent as is.
type rawBody []byte

// call sends one request the way api.go's buildRequest and doRequest do
// and decodes a 2xx answer into out. body nil sends no body.
func (c *goSDK) call(method, path string, query url.Values, body any, out any, mutation bool) error {
	c.t.Helper()
	var rd io.Reader
	if raw, ok := body.(rawBody); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatalf("encoding %s body: %v", path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + "/api" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	// WithoutCancel: the SDK tests tear down in t.Cleanup too.
	req, err := http.NewRequestWithContext(context.WithoutCancel(c.t.Context()), method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+devToken)
	req.Header.Set("User-Agent", "Oso Cloud (golang go1.26; rv:2.3.1)")
	req.Header.Set("X-OsoApiVersion", "0")
	requestID := uuid()
	req.Header.Set("X-Request-ID", requestID)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Oso-Instance-Id", c.instanceID)
	if c.lastOffset != "" {
		req.Header.Set("OsoOffset", c.lastOffset)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	c.lastRequestID = res.Header.Get("X-Request-ID")
	// The SDK quotes it in every error and a ParityHandle needs it.
	if c.lastRequestID != requestID {
		c.t.Errorf("%s %s: X-Request-ID %q answered to %q", method, path, c.lastRequestID, requestID)
	}
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		var m sdkMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatalf("%s %s: HTTP %d with a body the SDK cannot read as {\"message\"}: %v: %s", method, path, res.StatusCode, err, raw)
		}
		if m.Message == "" {
			c.t.Errorf("%s %s: HTTP %d with an empty message: %s", method, path, res.StatusCode, raw)
		}
		return &sdkError{status: res.StatusCode, message: m.Message}
	}
	if mutation {
		c.lastOffset = res.Header.Get("OsoOffset")
		if c.lastOffset == "" {
			c.t.Errorf("%s %s: a write answered without OsoOffset", method, path)
		}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		c.t.Fatalf("%s %s: the SDK cannot decode the answer into %T: %v: %s", method, path, out, err, raw)
	}
	return nil
}

func (c *goSDK) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *goSDK) policy(src string) error {
	c.t.Helper()
	var m sdkMessage
	return c.call(http.MethodPost, "/policy", nil, map[string]any{"filename": nil, "src": src}, &m, true)
}

func (c *goSDK) batch(changes ...any) error {
	c.t.Helper()
	if changes == nil {
		changes = []any{}
	}
	var m sdkMessage
	return c.call(http.MethodPost, "/batch", nil, changes, &m, true)
}

func (c *goSDK) insert(f sdkFact) error {
	c.t.Helper()
	return c.batch(sdkInserts{Inserts: []sdkFact{f}})
}

func (c *goSDK) delete(p sdkPattern) error {
	c.t.Helper()
	return c.batch(sdkDeletes{Deletes: []sdkPattern{p}})
}

// clearData sends no body (v2.3); earlier releases marshalled the nil
// payload, sending the body null: both are accepted.
func (c *goSDK) clearData() error {
	c.t.Helper()
	var m sdkMessage
	if err := c.call(http.MethodPost, "/clear_data", nil, json.RawMessage("null"), &m, true); err != nil {
		return err
	}
	return c.call(http.MethodPost, "/clear_data", nil, nil, &m, true)
}

// get is getFacts: only the non-nil pattern fields become query parameters.
func (c *goSDK) get(p sdkPattern) ([]sdkFact, error) {
	c.t.Helper()
	q := url.Values{"predicate": {p.Predicate}}
	for i, a := range p.Args {
		if a.Type != nil {
			q.Set(fmt.Sprintf("args.%d.type", i), *a.Type)
		}
		if a.ID != nil {
			q.Set(fmt.Sprintf("args.%d.id", i), *a.ID)
		}
	}
	var out []sdkFact
	err := c.call(http.MethodGet, "/facts", q, nil, &out, false)
	return out, err
}

func contextOrEmpty(ctx []sdkFact) []sdkFact {
	if ctx == nil {
		return []sdkFact{} // mapToInternalFacts never sends null
	}
	return ctx
}

func (c *goSDK) authorize(actor sdkValue, action string, resource sdkValue, ctx ...sdkFact) (bool, error) {
	c.t.Helper()
	var out struct {
		Allowed bool `json:"allowed"`
	}
	err := c.call(http.MethodPost, "/authorize", nil, map[string]any{
		"actor_type": actor.Type, "actor_id": actor.ID, "action": action,
		"resource_type": resource.Type, "resource_id": resource.ID,
		"context_facts": contextOrEmpty(ctx),
	}, &out, false)
	return out.Allowed, err
}

func (c *goSDK) list(actor sdkValue, action, resourceType string, ctx ...sdkFact) ([]string, error) {
	c.t.Helper()
	var out struct {
		Results []string `json:"results"`
	}
	err := c.call(http.MethodPost, "/list", nil, map[string]any{
		"actor_type": actor.Type, "actor_id": actor.ID, "action": action,
		"resource_type": resourceType, "context_facts": contextOrEmpty(ctx),
	}, &out, false)
	return out.Results, err
}

func (c *goSDK) actions(actor, resource sdkValue, ctx ...sdkFact) ([]string, error) {
	c.t.Helper()
	var out struct {
		Results []string `json:"results"`
	}
	err := c.call(http.MethodPost, "/actions", nil, map[string]any{
		"actor_type": actor.Type, "actor_id": actor.ID,
		"resource_type": resource.Type, "resource_id": resource.ID,
		"context_facts": contextOrEmpty(ctx),
	}, &out, false)
	return out.Results, err
}

func (c *goSDK) metadata() (map[string]sdkResourceMetadata, error) {
	c.t.Helper()
	var out sdkMetadata
	err := c.call(http.MethodGet, "/policy_metadata", nil, nil, &out, false)
	return out.Metadata.Resources, err
}

// qvar is a query variable: the SDK's TypedVar, or a concrete value turned
// into a fresh variable with a one-element ids list.
type qvar struct {
	name string
	typ  string
	ids  []string
}

// typedVar is the SDK's TypedVar: "var_" and 7 random base-36 characters.
func typedVar(typ string) *qvar {
	const letters = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := []byte("var_" + rand.Text()[:7])
	for i := 4; i < len(b); i++ {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return &qvar{name: string(b), typ: typ}
}

type qcall struct {
	pred string
	args []*qvar
}

// query is the SDK's QueryBuilder, reduced to what goes on the wire.
type query struct {
	c     *goSDK
	calls []qcall // the first is the predicate
	vars  []*qvar
	ctx   []sdkFact
}

// buildQuery is the SDK's BuildQuery: each argument is a *qvar (a TypedVar) or
// a sdkValue (a concrete value, sent as a fresh variable with one id).
func (c *goSDK) buildQuery(pred string, args ...any) *query {
	q := &query{c: c}
	return q.and(pred, args...)
}

func (q *query) and(pred string, args ...any) *query {
	call := qcall{pred: pred}
	for _, a := range args {
		switch a := a.(type) {
		case *qvar:
			if !slices.Contains(q.vars, a) {
				q.vars = append(q.vars, a)
			}
			call.args = append(call.args, a)
		case sdkValue:
			v := typedVar(a.Type)
			v.ids = []string{a.ID}
			q.vars = append(q.vars, v)
			call.args = append(call.args, v)
		default:
			q.c.t.Fatalf("query argument %T", a)
		}
	}
	q.calls = append(q.calls, call)
	return q
}

func (q *query) in(v *qvar, ids ...string) *query {
	v.ids = ids
	return q
}

func (q *query) withContext(ctx ...sdkFact) *query {
	out := *q
	out.ctx = append(slices.Clone(q.ctx), ctx...)
	return &out
}

func wireCall(c qcall) []any {
	names := make([]string, len(c.args))
	for i, a := range c.args {
		names[i] = a.name
	}
	return []any{c.pred, names}
}

// evaluate posts /evaluate_query and returns the rows as the SDK decodes
// them (map[string]string: null becomes "").
func (q *query) evaluate() ([]map[string]string, error) {
	q.c.t.Helper()
	constraints := map[string]any{}
	for _, v := range q.vars {
		constraints[v.name] = map[string]any{"type": v.typ, "ids": v.ids}
	}
	calls := []any{}
	for _, c := range q.calls[1:] {
		calls = append(calls, wireCall(c))
	}
	var out struct {
		Results []json.RawMessage `json:"results"`
	}
	err := q.c.call(http.MethodPost, "/evaluate_query", nil, map[string]any{
		"predicate":     wireCall(q.calls[0]),
		"calls":         calls,
		"constraints":   constraints,
		"context_facts": contextOrEmpty(q.ctx),
	}, &out, false)
	rows := []map[string]string{}
	for _, raw := range out.Results {
		var row map[string]string // the SDK's queryResult row
		if err := json.Unmarshal(raw, &row); err != nil {
			q.c.t.Fatalf("the SDK cannot decode the row %s: %v", raw, err)
		}
		// The SDK reads a missing variable as a wildcard (or fails on it
		// in map mode): every variable must be a key of every row.
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(raw, &keys)
		for _, v := range q.vars {
			if _, ok := keys[v.name]; !ok {
				q.c.t.Errorf("the row %s lacks the variable %s", raw, v.name)
			}
		}
		rows = append(rows, row)
	}
	return rows, err
}

// wildcard is the SDK's handleWildcard.
func wildcard(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// values is EvaluateValues (and Evaluate with one variable): the distinct
// values of v in row order.
func (q *query) values(v *qvar) []string {
	q.c.t.Helper()
	rows, err := q.evaluate()
	q.c.must(err)
	out := []string{}
	for _, r := range rows {
		if s := wildcard(r[v.name]); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// exists is EvaluateExists (and Evaluate with no variable).
func (q *query) exists() bool {
	q.c.t.Helper()
	rows, err := q.evaluate()
	q.c.must(err)
	return len(rows) > 0
}

// combinations is EvaluateCombinations (and Evaluate with a slice).
func (q *query) combinations(vs ...*qvar) [][]string {
	q.c.t.Helper()
	rows, err := q.evaluate()
	q.c.must(err)
	out := [][]string{}
	for _, r := range rows {
		var row []string
		for _, v := range vs {
			row = append(row, wildcard(r[v.name]))
		}
		out = append(out, row)
	}
	return out
}

// groupRows is Evaluate with map{k: v}: the rows grouped by k, each group's
// distinct values of v in row order.
func groupRows(t *testing.T, rows []map[string]string, k, v *qvar) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range rows {
		key, ok := r[k.name]
		if !ok {
			t.Fatalf("a row lacks the variable %s: %v", k.name, r)
		}
		key = wildcard(key)
		if s := wildcard(r[v.name]); !slices.Contains(out[key], s) {
			out[key] = append(out[key], s)
		}
	}
	return out
}

func (q *query) mapping(k, v *qvar) map[string][]string {
	q.c.t.Helper()
	rows, err := q.evaluate()
	q.c.must(err)
	return groupRows(q.c.t, rows, k, v)
}

func wantNoErr[T any](t *testing.T, what string, got T, err error, want T) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func wantErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want an Oso Cloud error", what)
		return
	}
	e, ok := err.(*sdkError)
	if !ok {
		t.Errorf("%s: %v, want an Oso Cloud error", what, err)
		return
	}
	// retryablehttp retries a 5xx (but 501) ten times and then reports
	// "giving up", not the server's message: a refusal must be a 4xx.
	if e.status < 400 || e.status > 499 {
		t.Errorf("%s: HTTP %d, want a 4xx", what, e.status)
	}
}

func predicates(fs []sdkFact) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Predicate)
	}
	return out
}

// --- oso_test.go ---------------------------------------------------------

const sdkRepoPolicy = `
		actor User {}

		resource Repo {
			roles = ["member"];
			permissions = ["read"];
			relations = { parent: Repo };
      		"read" if "member";
			"read" if "read" on "parent";
		}
	`

func sdkEverything(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkRepoPolicy))
	user, child, parent := val("User", "1"), val("Repo", "2"), val("Repo", "3")

	ok, err := c.authorize(user, "read", child)
	wantNoErr(t, "authorize before any fact", ok, err, false)
	ids, err := c.list(user, "read", "Repo")
	wantNoErr(t, "list before any fact", ids, err, []string{})

	c.must(c.insert(fact("has_relation", parent, str("parent"), child)))
	c.must(c.insert(fact("has_role", user, str("member"), child)))
	c.must(c.insert(fact("has_role", user, str("member"), parent)))

	// Values the SDK would refuse are refused by the server too.
	wantErr(t, "insert with an empty type", c.insert(fact("has_role", val("", "bad"), str("member"), parent)))
	wantErr(t, "insert with an empty id", c.insert(fact("has_role", val("User", ""), str("member"), parent)))

	for _, tc := range []struct {
		p    sdkPattern
		want int
	}{
		{pattern("has_role", exact(user), exact(str("member")), exact(child)), 1},
		{pattern("has_role", exact(user), anyArg(), exact(child)), 1},
		{pattern("has_role", exact(user), anyArg(), anyArg()), 2},
		{pattern("has_role", anyArg(), anyArg(), anyArg()), 2},
	} {
		got, err := c.get(tc.p)
		want := slices.Repeat([]string{"has_role"}, tc.want)
		wantNoErr(t, fmt.Sprintf("get %+v", tc.p), predicates(got), err, want)
	}

	ok, err = c.authorize(user, "read", child)
	wantNoErr(t, "authorize after the facts", ok, err, true)
	acts, err := c.actions(user, child)
	wantNoErr(t, "actions", acts, err, []string{"read"})

	// teardown: Delete(Fact) sends every argument exact.
	c.must(c.delete(asPattern(fact("has_role", user, str("member"), child))))
	c.must(c.delete(asPattern(fact("has_role", user, str("member"), parent))))
	c.must(c.delete(asPattern(fact("has_relation", parent, str("parent"), child))))
	got, err := c.get(pattern("has_role"))
	wantNoErr(t, "get after the teardown", got, err, nil)
}

func sdkAPIError(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkRepoPolicy))
	err := c.insert(fact("does_not_exist", val("User", "1"), str("taco")))
	wantErr(t, "insert does_not_exist(...)", err)
}

func sdkRequestBodyTooBig(t *testing.T, c *goSDK) {
	// The SDK refuses a body over 10 MiB itself; the server must refuse one
	// too, with the error envelope.
	err := c.insert(fact("has_role", val("User", "1"), str(strings.Repeat("a", 10*1024*1024))))
	wantErr(t, "a body over 10 MiB", err)

	// The SDK sends bodies up to exactly 10 MiB.
	c.must(c.policy(sdkRepoPolicy))
	b, err := json.Marshal([]any{sdkInserts{Inserts: []sdkFact{fact("has_role", val("User", "1"), str("member"), val("Repo", "1"))}}})
	if err != nil {
		t.Fatal(err)
	}
	const maxBodySize = 10 * 1024 * 1024
	b = append(b, bytes.Repeat([]byte(" "), maxBodySize-len(b))...)
	var m sdkMessage
	c.must(c.call(http.MethodPost, "/batch", nil, rawBody(b), &m, true))
	c.must(c.delete(pattern("has_role", anyArg(), anyArg(), anyArg())))
}

func sdkBatch(t *testing.T, c *goSDK) {
	c.must(c.policy(`
		actor User {}

		resource Repo {
			roles = ["member", "owner"];
			permissions = ["read"];
			relations = { parent: Repo };
			"read" if "member";
			"read" if "read" on "parent";
			"read" if "owner";
		}

		resource Issue {
			roles = ["member", "owner"];
			permissions = ["read"];
			"read" if "member";
			"read" if "owner";
		}
	`))
	user, child, parent := val("User", "4"), val("Repo", "5"), val("Repo", "6")

	c.must(c.batch(sdkInserts{Inserts: []sdkFact{
		fact("has_role", user, str("member"), child),
		fact("has_role", user, str("owner"), child),
		fact("has_relation", parent, str("parent"), child),
	}}))
	got, err := c.get(asPattern(fact("has_role", user, str("member"), child)))
	wantNoErr(t, "get the member role", predicates(got), err, []string{"has_role"})
	got, err = c.get(asPattern(fact("has_relation", parent, str("parent"), child)))
	wantNoErr(t, "get the relation", predicates(got), err, []string{"has_relation"})

	// Consecutive deletes are one changeset.
	c.must(c.batch(sdkDeletes{Deletes: []sdkPattern{
		asPattern(fact("has_role", user, str("owner"), child)),
		asPattern(fact("has_role", user, str("member"), child)),
		pattern("has_relation", anyArg(), anyArg(), anyArg()),
	}}))
	for _, p := range []sdkPattern{
		asPattern(fact("has_role", user, str("member"), child)),
		asPattern(fact("has_role", user, str("owner"), child)),
		asPattern(fact("has_relation", parent, str("parent"), child)),
	} {
		got, err := c.get(p)
		wantNoErr(t, fmt.Sprintf("get %+v after the deletes", p), got, err, nil)
	}

	// Inserts then wildcard deletes in one request, applied in order.
	c.must(c.batch(
		sdkInserts{Inserts: []sdkFact{
			fact("has_role", val("User", "1"), str("member"), val("Repo", "1")),
			fact("has_role", val("User", "2"), str("owner"), val("Repo", "2")),
			fact("has_role", val("User", "1"), str("member"), val("Issue", "1")),
			fact("has_role", val("User", "2"), str("owner"), val("Issue", "2")),
		}},
		sdkDeletes{Deletes: []sdkPattern{
			pattern("has_role", anyArg(), exact(str("member")), anyArg()),
			pattern("has_role", anyArg(), anyArg(), ofType("Issue")),
		}},
	))
	got, err = c.get(pattern("has_role", anyArg(), anyArg(), anyArg()))
	wantNoErr(t, "get after the mixed batch", got, err,
		[]sdkFact{fact("has_role", val("User", "2"), str("owner"), val("Repo", "2"))})

	wantErr(t, "a batch insert with an empty type",
		c.batch(sdkInserts{Inserts: []sdkFact{fact("has_role", val("", "1"), str("member"), val("Repo", "1"))}}))
	wantErr(t, "a batch insert with an empty id",
		c.batch(sdkInserts{Inserts: []sdkFact{fact("has_role", val("User", ""), str("member"), val("Repo", "1"))}}))

	// teardown
	c.must(c.delete(pattern("has_relation", anyArg(), anyArg(), anyArg())))
	c.must(c.delete(pattern("has_role", anyArg(), anyArg(), anyArg())))
	got, err = c.get(pattern("has_role"))
	wantNoErr(t, "get after the teardown", got, err, nil)
}

// sdkContextFactsPolicy is the policy of the SDK's context-facts
// scenario, which the v2 and v1 replays share.
const sdkContextFactsPolicy = `
		actor User {}

		resource Repo {
			roles = ["member"];
			permissions = ["read"];
			relations = { parent: Repo };
			"read" if "member";
		}
	`

func sdkContextFacts(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkContextFactsPolicy))
	user, acme, anvil := val("User", "7"), val("Repo", "8"), val("Repo", "9")
	memberOf := func(r sdkValue) sdkFact { return fact("has_role", user, str("member"), r) }

	ok, err := c.authorize(user, "read", acme)
	wantNoErr(t, "authorize, no context", ok, err, false)
	ok, err = c.authorize(user, "read", acme, memberOf(acme))
	wantNoErr(t, "authorize, context on acme", ok, err, true)

	ids, err := c.list(user, "read", "Repo")
	wantNoErr(t, "list, no context", ids, err, []string{})
	ids, err = c.list(user, "read", "Repo", memberOf(acme))
	wantNoErr(t, "list, context on acme", ids, err, []string{acme.ID})
	ids, err = c.list(user, "read", "Repo", memberOf(anvil))
	wantNoErr(t, "list, context on anvil", ids, err, []string{anvil.ID})

	acts, err := c.actions(user, acme)
	wantNoErr(t, "actions, no context", acts, err, []string{})
	acts, err = c.actions(user, acme, memberOf(anvil))
	wantNoErr(t, "actions, context on anvil", acts, err, []string{})
	acts, err = c.actions(user, acme, memberOf(acme))
	wantNoErr(t, "actions, context on acme", acts, err, []string{"read"})
}

func sdkPolicyMetadata(t *testing.T, c *goSDK) {
	c.must(c.policy(`
	actor User { }

	resource Organization {
		roles = ["admin", "member"];
		permissions = [
			"read", "add_member", "repository.create",
		];

		# role hierarchy:
		# admins inherit all member permissions
		"member" if "admin";

		# org-level permissions
		"read" if "member";
		"add_member" if "admin";
		# permission to create a repository
		# in the organization
		"repository.create" if "admin";
	}

	resource Repository {
		permissions = ["read", "delete"];
		roles = ["member", "admin"];
		relations = {
			organization: Organization,
		};

		# inherit all roles from the organization
		role if role on "organization";

		# admins inherit all member permissions
		"member" if "admin";

		"read" if "member";
		"delete" if "admin";
	}
	`))
	got, err := c.metadata()
	if err != nil {
		t.Fatal(err)
	}
	empty := sdkResourceMetadata{Permissions: []string{}, Roles: []string{}, Relations: map[string]string{}}
	want := map[string]sdkResourceMetadata{
		"Organization": {
			Permissions: []string{"add_member", "read", "repository.create"},
			Roles:       []string{"admin", "member"},
			Relations:   map[string]string{},
		},
		"Repository": {
			Permissions: []string{"delete", "read"},
			Roles:       []string{"admin", "member"},
			Relations:   map[string]string{"organization": "Organization"},
		},
		"User":   empty,
		"global": empty,
	}
	// The SDK compares with reflect.DeepEqual: [] and {} must not be null.
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("policy metadata (-want +got):\n%s", d)
	}
}

// --- fallback_test.go (Castellan as the fallback target) ---------------------

func sdkFallbackTarget(t *testing.T, c *goSDK) {
	// fallback_test.go loads no policy and runs first: on the SDK's CI the
	// dev server has none yet.
	c.must(c.clearData())
	bob, alice, acme := val("User", "bob"), val("User", "alice"), val("Repo", "acme")
	c.must(c.batch(sdkInserts{Inserts: []sdkFact{
		fact("has_permission", bob, str("read"), acme),
		fact("has_permission", alice, str("read"), acme),
	}}))

	ok, err := c.authorize(bob, "read", acme)
	wantNoErr(t, "authorize from a has_permission fact", ok, err, true)
	got, err := c.get(pattern("has_permission", anyArg(), exact(str("read")), anyArg()))
	wantNoErr(t, "get has_permission(_, read, _)", len(got), err, 2)

	user, repo := val("User", "10"), val("Repo", "11")
	ok, err = c.authorize(user, "read", repo, fact("has_permission", user, str("read"), repo))
	wantNoErr(t, "authorize from a has_permission context fact", ok, err, true)
}

// sdkV1Fallback is the v1 TestFallback as Castellan, the fallback target,
// sees it: the insert never reaches it (the primary is down), the check
// carries a has_permission context fact. It runs after TestPolicyMetadata,
// whose policy has no Repo.
func sdkV1Fallback(t *testing.T, c *goSDK) {
	user, acme := val("User", "20"), val("Repo", "21")
	ok, err := c.authorize(user, "read", acme, fact("has_permission", user, str("read"), acme))
	wantNoErr(t, "authorize from a has_permission context fact", ok, err, true)
}

// sdkLocalAuthorization replays the local-authorization calls of
// gorm_test.go and TestAuthLocalWithParityHandle request for request
// (AuthorizeLocal, ListLocal, ActionsLocal, EvaluateLocalSelect and
// EvaluateLocalFilter, each with the whole bindings file), and runs the SQL
// each answers on a real PostgreSQL database holding the application's
// rows, as the SDK's caller does.
func sdkLocalAuthorization(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkLocalPolicy))
	db := sdkLocalDatabase(t)
	c.must(c.insert(fact("has_role", val("User", "bob"), str("member"), val("Repo", "3"))))
	c.must(c.insert(fact("has_role", val("User", "bob"), str("member"), val("Repo", "4"))))
	c.must(c.insert(fact("is_god", val("User", "god"))))
	local := func(path string, body map[string]any) string {
		t.Helper()
		body["data_bindings"] = sdkLocalBindings
		var out struct {
			SQL string `json:"sql"`
		}
		c.must(c.call(http.MethodPost, path, nil, body, &out, false))
		if c.lastRequestID == "" {
			t.Errorf("%s: no X-Request-ID", path)
		}
		return out.SQL
	}
	authorize := func(user, action, repo string, ctx ...sdkFact) bool {
		t.Helper()
		sql := local("/authorize_query", map[string]any{"query": map[string]any{"actor_type": "User", "actor_id": user, "action": action,
			"resource_type": "Repo", "resource_id": repo, "context_facts": contextOrEmpty(ctx)}})
		var allowed bool
		if err := db.QueryRow(t.Context(), sql).Scan(&allowed); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		return allowed
	}
	list := func(user, action string) []string {
		t.Helper()
		cond := local("/list_query", map[string]any{"query": map[string]any{"actor_type": "User", "actor_id": user, "action": action,
			"resource_type": "Repo", "context_facts": []sdkFact{}}, "column": "repos.id"})
		return sdkLocalStrings(t, db, "SELECT id::text FROM repos WHERE "+cond+" ORDER BY id")
	}
	for _, tc := range []struct {
		user, action, repo string
		want               bool
	}{
		{"alice", "read", "1", true}, {"alice", "read", "3", true}, // a row, then the parent chain
		{"bob", "read", "3", true}, {"bob", "read", "1", false}, // a stored fact
		{"god", "read", "999", true}, // allowed on a resource that does not exist
		{"alice", "fly", "1", false}, {"nobody", "read", "1", false},
	} {
		if got := authorize(tc.user, tc.action, tc.repo); got != tc.want {
			t.Errorf("AuthorizeLocal(%s, %s, Repo %s) = %v, want %v", tc.user, tc.action, tc.repo, got, tc.want)
		}
	}
	if !authorize("dartagnan", "read", "4", fact("has_role", val("User", "dartagnan"), str("member"), val("Repo", "4"))) {
		t.Error("AuthorizeLocalWithContext: a context fact does not allow")
	}
	for _, tc := range []struct {
		user, action string
		want         []string
	}{
		{"alice", "read", []string{"1", "2", "3", "4"}}, {"bob", "read", []string{"3", "4"}},
		{"god", "read", []string{"1", "2", "3", "4", "5"}}, {"alice", "fly", nil},
	} {
		if got := list(tc.user, tc.action); !slices.Equal(got, tc.want) {
			t.Errorf("ListLocal(%s, %s, Repo) = %v, want %v", tc.user, tc.action, got, tc.want)
		}
	}
	actions := local("/actions_query", map[string]any{"query": map[string]any{"actor_type": "User", "actor_id": "alice",
		"resource_type": "Repo", "resource_id": "2", "context_facts": []sdkFact{}}})
	if got := sdkLocalStrings(t, db, "SELECT actions FROM ("+actions+") AS a"); !slices.Equal(got, []string{"read"}) {
		t.Errorf("ActionsLocal = %v, want [read]", got)
	}
	// EvaluateLocalSelect(allow(userVar, "read", Repo 4)): rows from the
	// database (alice), a stored fact (bob), a context fact (dartagnan)
	// and a rule (god).
	userVar, action, repo := typedVar("User"), typedVar("String"), typedVar("Repo")
	query := func(repoIDs []string, ctx ...sdkFact) map[string]any {
		return map[string]any{"predicate": []any{"allow", []string{userVar.name, action.name, repo.name}}, "calls": []any{},
			"constraints": map[string]any{userVar.name: map[string]any{"type": "User", "ids": nil},
				action.name: map[string]any{"type": "String", "ids": []string{"read"}},
				repo.name:   map[string]any{"type": "Repo", "ids": repoIDs}},
			"context_facts": contextOrEmpty(ctx)}
	}
	sel := local("/evaluate_query_local", map[string]any{"query": query([]string{"4"}, fact("has_role", val("User", "dartagnan"), str("member"), val("Repo", "4"))),
		"mode": map[string]any{"mode": "select", "query_vars_to_output_column_names": map[string]string{userVar.name: "user_id"}}})
	if got := sdkLocalStrings(t, db, "SELECT user_id FROM ("+sel+") AS s"); !slices.Equal(got, []string{"alice", "bob", "dartagnan", "god"}) {
		t.Errorf("EvaluateLocalSelect = %v, want [alice bob dartagnan god]", got)
	}
	sel = local("/evaluate_query_local", map[string]any{"query": query([]string{"2"}),
		"mode": map[string]any{"mode": "select", "query_vars_to_output_column_names": map[string]string{}}})
	var result bool
	if err := db.QueryRow(t.Context(), sel).Scan(&result); err != nil || !result {
		t.Errorf("EvaluateLocalSelect({}) = %v, %v; want one row, result true\n%s", result, err, sel)
	}
	filter := local("/evaluate_query_local", map[string]any{"query": query(nil),
		"mode": map[string]any{"mode": "filter", "output_column_name": "repos.id", "query_var": repo.name}})
	if got := sdkLocalStrings(t, db, "SELECT DISTINCT repos.id::text FROM repos WHERE "+filter+" ORDER BY 1"); !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
		t.Errorf("EvaluateLocalFilter = %v (god reads every repo)", got)
	}
	// Without a bindings file the Go SDK sends "": a 400 that says so.
	err := c.call(http.MethodPost, "/authorize_query", nil, map[string]any{"query": map[string]any{"actor_type": "User", "actor_id": "alice",
		"action": "read", "resource_type": "Repo", "resource_id": "1", "context_facts": []sdkFact{}}, "data_bindings": ""}, nil, false)
	if e, ok := err.(*sdkError); !ok || e.status != http.StatusBadRequest || !strings.Contains(e.message, "data bindings are empty") {
		t.Errorf("blank data_bindings: %v, want a 400", err)
	}
}

// sdkLocalPolicy is the repo policy with a god user, allowed on every
// repo, even one that does not exist.
const sdkLocalPolicy = sdkRepoPolicy + `allow(user: User, "read", _repo: Repo) if is_god(user);`

const sdkLocalBindings = `facts:
  has_relation(Repo:_, parent, Repo:_):
    query: SELECT id, parent_id FROM repos WHERE parent_id IS NOT NULL
  has_role(User:_, String:_, Repo:_):
    query: SELECT user_id, role, repo_id FROM repo_roles
sql_types:
  Repo: integer
`

// sdkLocalDatabase is the application's database of the local scenario:
// repos 2 and 3 under 1, 4 under 2, 5 alone; alice is a member of 1.
func sdkLocalDatabase(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(t.Context(), `
CREATE TABLE repos (id integer PRIMARY KEY, parent_id integer REFERENCES repos);
CREATE TABLE repo_roles (user_id text, role text, repo_id integer REFERENCES repos);
INSERT INTO repos VALUES (1, NULL), (2, 1), (3, 2), (4, 2), (5, NULL);
INSERT INTO repo_roles VALUES ('alice', 'member', 1);`)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func sdkLocalStrings(t *testing.T, db *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := db.Query(t.Context(), sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	slices.Sort(out)
	return out
}

// --- types_test.go -----------------------------------------------------------

func sdkBuiltinTypes(t *testing.T, c *goSDK) {
	c.must(c.policy("declare is_weird(Integer, String, Boolean);"))
	weird := fact("is_weird", val("Integer", "10"), val("String", "yes"), val("Boolean", "true"))
	c.must(c.insert(weird))
	got, err := c.get(asPattern(weird))
	wantNoErr(t, "get is_weird(10, yes, true)", got, err, []sdkFact{weird})
	c.must(c.delete(pattern("is_weird", anyArg(), anyArg(), anyArg())))
	got, err = c.get(pattern("is_weird"))
	wantNoErr(t, "get after the delete", got, err, nil)
}

// --- parity_handle_test.go ---------------------------------------------------

func sdkParityHandle(t *testing.T, c *goSDK) {
	c.must(c.policy(`
		actor User {}
		resource Document {
			permissions = ["read", "write"];
			roles = ["viewer", "editor"];
			"viewer" if "editor";
			"write" if "editor";
			"read" if "viewer";
		}
	`))
	alice, bob, doc := val("User", "alice"), val("User", "bob"), val("Document", "doc1")
	c.must(c.insert(fact("has_role", alice, str("editor"), doc)))
	c.must(c.insert(fact("has_role", bob, str("viewer"), doc)))

	expect := func(requestID string, expected bool) error {
		var m sdkMessage
		return c.call(http.MethodPost, "/expect", nil, map[string]any{"request_id": requestID, "expected": expected}, &m, false)
	}
	for _, tc := range []struct {
		actor    sdkValue
		action   string
		expected bool
	}{
		{alice, "read", true},
		{bob, "write", false},
		{bob, "write", true}, // a mismatch is recorded, not an error
	} {
		ok, err := c.authorize(tc.actor, tc.action, doc)
		if err != nil {
			t.Fatal(err)
		}
		id := c.lastRequestID
		if id == "" {
			t.Fatal("/api/authorize answered without X-Request-ID: the ParityHandle cannot work")
		}
		if err := expect(id, tc.expected); err != nil {
			t.Errorf("expect(%s %s, %t) after allowed=%t: %v", tc.actor.ID, tc.action, tc.expected, ok, err)
		}
	}
	c.must(c.delete(pattern("has_role", anyArg(), anyArg(), anyArg())))
}

// --- query_test.go -----------------------------------------------------------

// setupQuery is query_test.go's setupClient: clear the data, load the
// policy and the three facts.
func setupQuery(t *testing.T, c *goSDK) {
	t.Helper()
	c.must(c.clearData())
	c.must(c.policy(`
		global {
		  permissions = ["create_repository"];
		  roles = ["user"];

		  "create_repository" if "user";
		}

		has_role(_: User, "user");

		actor User {
		}

		resource Org {
		  roles = ["member", "admin"];
		  permissions = ["read", "delete"];

		  "read" if "member";
		  "read" if global "user";
		  "delete" if "admin";
		}

		resource Repo {
		  roles = ["member", "admin"];
		  permissions = ["read", "write"];
		  relations = { parent: Org };

		  role if role on "parent";

		  "read" if "member";
		  "write" if "admin";

		  "member" if "admin";
		}

		resource Field {}

		allow_field(user: User, "read", repo: Repo, Field{"name"}) if
		  has_permission(user, "read", repo);
	`))
	c.must(c.batch(sdkInserts{Inserts: []sdkFact{
		fact("has_role", val("User", "alice"), str("member"), val("Org", "acme")),
		fact("has_role", val("User", "bob"), str("admin"), val("Org", "acme")),
		fact("has_relation", val("Repo", "anvil"), str("parent"), val("Org", "acme")),
	}}))
	t.Cleanup(func() {
		c.must(c.batch(sdkDeletes{Deletes: []sdkPattern{
			pattern("has_role", anyArg(), anyArg(), anyArg()),
			pattern("has_relation", anyArg(), anyArg(), anyArg()),
		}}))
	})
}

// queryScenarios are the tests of query_test.go, each starting with
// setupClient.
func queryScenarios() []sdkScenario {
	alice, bob := val("User", "alice"), val("User", "bob")
	acme, anvil := val("Org", "acme"), val("Repo", "anvil")
	return []sdkScenario{
		{"Query/FieldLevel", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			field := typedVar("Field")
			q := c.buildQuery("allow_field", alice, str("read"), anvil, field)
			wantNoErr(t, "EvaluateValues(field)", q.values(field), nil, []string{"name"})
		}},

		{"Query/GlobalPermissions", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			q := c.buildQuery("has_permission", alice, str("create_repository"))
			wantNoErr(t, "EvaluateExists", q.exists(), nil, true)
		}},

		{"Query/BulkActions", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			action, repo := typedVar("String"), typedVar("Repo")
			q := c.buildQuery("allow", alice, action, repo).in(repo, "anvil", "3", "5")
			wantNoErr(t, "Evaluate(map{repo: action})", q.mapping(repo, action), nil,
				map[string][]string{"anvil": {"read"}})
		}},

		{"Query/AuthorizedResources", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			repo := typedVar("Repo")
			q := c.buildQuery("allow", alice, str("read"), repo).in(repo, "anvil", "3", "5")
			wantNoErr(t, "EvaluateValues(repo)", q.values(repo), nil, []string{"anvil"})
		}},

		{"Query/AllowWithFilters", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			action, repo := typedVar("String"), typedVar("Repo")
			q := c.buildQuery("allow", bob, action, repo).and("has_relation", repo, str("parent"), acme)
			wantNoErr(t, "Evaluate(map{repo: action})", q.mapping(repo, action), nil,
				map[string][]string{"anvil": {"read", "write"}})
			wantNoErr(t, "EvaluateCombinations(action, repo)", q.combinations(action, repo), nil,
				[][]string{{"read", "anvil"}, {"write", "anvil"}})
		}},

		{"Query/AllowWithFiltersAndContext", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			action, repo := typedVar("String"), typedVar("Repo")
			q := c.buildQuery("allow", bob, action, repo).and("has_relation", repo, str("parent"), acme).
				withContext(fact("has_relation", val("Repo", "newRepo"), str("parent"), acme))
			wantNoErr(t, "Evaluate(map{repo: action})", q.mapping(repo, action), nil,
				map[string][]string{"anvil": {"read", "write"}, "newRepo": {"read", "write"}})
		}},

		{"Query/ReusingBuilders", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			action := typedVar("String")
			q := c.buildQuery("allow", alice, action, anvil)
			withCtx := q.withContext(fact("has_role", alice, str("admin"), anvil))
			wantNoErr(t, "with context", withCtx.values(action), nil, []string{"read", "write"})
			wantNoErr(t, "without context", q.values(action), nil, []string{"read"})
		}},

		{"Query/MultipleWithContextFacts", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			charlie, osohq, gitcloud := val("User", "charlie"), val("Org", "osohq"), val("Repo", "gitcloud")
			q := c.buildQuery("allow", charlie, str("read"), gitcloud).
				withContext(fact("has_role", charlie, str("member"), osohq)).
				withContext(fact("has_relation", gitcloud, str("parent"), osohq))
			wantNoErr(t, "Evaluate(nil)", q.exists(), nil, true)
		}},

		{"Query/WildcardMapResults", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			action, org := typedVar("String"), typedVar("Org")
			q := c.buildQuery("allow", bob, action, org)
			wantNoErr(t, "Evaluate(map{org: action})", q.mapping(org, action), nil,
				map[string][]string{"acme": {"delete"}, "*": {"read"}})

			user := typedVar("User")
			q = c.buildQuery("allow", user, action, acme)
			wantNoErr(t, "Evaluate(map{user: action})", q.mapping(user, action), nil,
				map[string][]string{"*": {"read"}, "alice": {"read"}, "bob": {"delete"}})
		}},

		{"Query/WildcardIsNull", func(t *testing.T, c *goSDK) {
			// On the wire the SDK's "*" is a JSON null, and every variable is
			// a key of every row.
			setupQuery(t, c)
			action, org := typedVar("String"), typedVar("Org")
			q := c.buildQuery("allow", bob, action, org)
			constraints := map[string]any{
				action.name: map[string]any{"type": "String", "ids": nil},
				org.name:    map[string]any{"type": "Org", "ids": nil},
			}
			bobVar := q.calls[0].args[0]
			constraints[bobVar.name] = map[string]any{"type": "User", "ids": []string{"bob"}}
			var out struct {
				Results []map[string]*string `json:"results"`
			}
			c.must(c.call(http.MethodPost, "/evaluate_query", nil, map[string]any{
				"predicate":     wireCall(q.calls[0]),
				"calls":         []any{},
				"constraints":   constraints,
				"context_facts": []sdkFact{},
			}, &out, false))
			var nulls int
			for _, r := range out.Results {
				for _, v := range []*qvar{bobVar, action, org} {
					if _, ok := r[v.name]; !ok {
						t.Errorf("row %v lacks %s", r, v.name)
					}
				}
				if r[org.name] == nil {
					nulls++
					if r[action.name] == nil || *r[action.name] != "read" {
						t.Errorf("the wildcard row is %v, want action read", r)
					}
				}
			}
			if nulls != 1 {
				t.Errorf("%d rows with a null org, want 1: %v", nulls, out.Results)
			}
		}},

		{"Query/EvaluateDuplicateResults", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			action, repo := typedVar("String"), typedVar("Repo")
			q := c.buildQuery("allow", bob, action, repo).and("has_relation", repo, str("parent"), acme)
			wantNoErr(t, "EvaluateValues(repo)", q.values(repo), nil, []string{"anvil"})
		}},

		{"Query/NestedMaps", func(t *testing.T, c *goSDK) {
			setupQuery(t, c)
			user, action, repo := typedVar("User"), typedVar("String"), typedVar("Repo")
			q := c.buildQuery("allow", user, action, repo).in(repo, "anvil", "3", "5")
			rows, err := q.evaluate()
			c.must(err)
			got := map[string]map[string][]string{}
			byUser := map[string][]map[string]string{}
			for _, r := range rows {
				k := wildcard(r[user.name])
				byUser[k] = append(byUser[k], r)
			}
			for k, rs := range byUser {
				got[k] = groupRows(t, rs, repo, action)
			}
			wantNoErr(t, "Evaluate(map{user: map{repo: action}})", got, nil,
				map[string]map[string][]string{"alice": {"anvil": {"read"}}, "bob": {"anvil": {"read", "write"}}})
		}},
	}
}

// sdkOffset checks the consistency token: every write answers an
// OsoOffset, and a read that sends it back is answered.
func sdkOffset(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkRepoPolicy))
	first := c.lastOffset
	c.must(c.insert(fact("has_role", val("User", "1"), str("member"), val("Repo", "1"))))
	if c.lastOffset == first {
		t.Errorf("OsoOffset stayed %q across a write", first)
	}
	ok, err := c.authorize(val("User", "1"), "read", val("Repo", "1"))
	wantNoErr(t, "authorize with OsoOffset", ok, err, true)
	// Deleting what is not there is no error, and still a write.
	c.must(c.delete(asPattern(fact("has_role", val("User", "9"), str("member"), val("Repo", "9")))))
	c.must(c.delete(pattern("has_role", anyArg(), anyArg(), anyArg())))
}

// --- go-oso-cloud v1 (the Instance API: tell, bulk, authorize_resources,
// bulk_actions, query v1) -------------------------------------------------

// v1Fact is a v1 fact: every argument a {type, id} with nulls allowed.
type v1Fact struct {
	Predicate string            `json:"predicate"`
	Args      []sdkPatternValue `json:"args"`
}

func v1(f sdkFact) v1Fact { return v1Fact(asPattern(f)) }

func v1Facts(fs ...sdkFact) []v1Fact {
	out := []v1Fact{}
	for _, f := range fs {
		out = append(out, v1(f))
	}
	return out
}

func (c *goSDK) tell(f sdkFact) error {
	c.t.Helper()
	var echo v1Fact
	if err := c.call(http.MethodPost, "/facts", nil, v1(f), &echo, true); err != nil {
		return err
	}
	if d := cmp.Diff(v1(f), echo); d != "" {
		c.t.Errorf("POST /facts echo (-want +got):\n%s", d)
	}
	return nil
}

func (c *goSDK) v1Delete(f sdkFact) error {
	c.t.Helper()
	var m sdkMessage
	return c.call(http.MethodDelete, "/facts", nil, v1(f), &m, true)
}

// v1Get is the v1 Get: an empty predicate sends none.
func (c *goSDK) v1Get(pred string, args ...sdkPatternValue) ([]sdkFact, error) {
	c.t.Helper()
	q := url.Values{}
	if pred != "" {
		q.Set("predicate", pred)
	}
	for i, a := range args {
		if a.Type != nil {
			q.Set(fmt.Sprintf("args.%d.type", i), *a.Type)
		}
		if a.ID != nil {
			q.Set(fmt.Sprintf("args.%d.id", i), *a.ID)
		}
	}
	var out []sdkFact
	err := c.call(http.MethodGet, "/facts", q, nil, &out, false)
	return out, err
}

func (c *goSDK) authorizeResources(actor sdkValue, action string, resources []sdkValue, ctx ...sdkFact) ([]sdkValue, error) {
	c.t.Helper()
	var out struct {
		Results []sdkValue `json:"results"`
	}
	err := c.call(http.MethodPost, "/authorize_resources", nil, map[string]any{
		"actor_type": actor.Type, "actor_id": actor.ID, "action": action,
		"resources": resources, "context_facts": v1Facts(ctx...),
	}, &out, false)
	return out.Results, err
}

func sdkV1Everything(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkRepoPolicy))
	user, child, parent := val("User", "1"), val("Repo", "2"), val("Repo", "3")

	c.must(c.tell(fact("has_relation", parent, str("parent"), child)))
	c.must(c.tell(fact("has_role", user, str("member"), child)))
	c.must(c.tell(fact("has_role", user, str("member"), parent)))
	for _, tc := range []struct {
		pred string
		args []sdkPatternValue
		want int
	}{
		{"has_role", []sdkPatternValue{exact(user), exact(str("member")), exact(child)}, 1},
		{"has_role", []sdkPatternValue{exact(user), anyArg(), exact(child)}, 1},
		{"has_role", []sdkPatternValue{exact(user), anyArg(), anyArg()}, 2},
		{"", []sdkPatternValue{anyArg(), anyArg(), anyArg()}, 3}, // no predicate: every fact
	} {
		got, err := c.v1Get(tc.pred, tc.args...)
		wantNoErr(t, fmt.Sprintf("get %q %+v", tc.pred, tc.args), len(got), err, tc.want)
	}
	ok, err := c.authorize(user, "read", child)
	wantNoErr(t, "authorize", ok, err, true)

	c.must(c.v1Delete(fact("has_role", user, str("member"), child)))
	c.must(c.v1Delete(fact("has_role", user, str("member"), parent)))
	c.must(c.v1Delete(fact("has_relation", parent, str("parent"), child)))
	got, err := c.v1Get("")
	wantNoErr(t, "get after the deletes", got, err, nil)

	wantErr(t, "tell does_not_exist(...)", c.tell(fact("does_not_exist", user, str("taco"))))
}

func sdkV1BulkFacts(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkRepoPolicy))
	user, child, parent := val("User", "1"), val("Repo", "2"), val("Repo", "3")
	facts := v1Facts(
		fact("has_role", user, str("member"), child),
		fact("has_relation", parent, str("parent"), child),
	)
	count := func(what string, want int) {
		t.Helper()
		got, err := c.v1Get("has_role", exact(user), exact(str("member")), exact(child))
		wantNoErr(t, what, len(got), err, want)
	}
	var m sdkMessage
	c.must(c.call(http.MethodPost, "/bulk_load", nil, facts, &m, true))
	count("after bulk_load", 1)
	got, err := c.v1Get("has_relation", exact(parent), exact(str("parent")), exact(child))
	wantNoErr(t, "relation after bulk_load", len(got), err, 1)
	c.must(c.call(http.MethodPost, "/bulk_delete", nil, facts, &m, true))
	count("after bulk_delete", 0)
	c.must(c.call(http.MethodPost, "/bulk", nil, map[string]any{"delete": []v1Fact{}, "tell": facts}, &m, true))
	count("after bulk tell", 1)
	c.must(c.call(http.MethodPost, "/bulk", nil, map[string]any{"delete": facts, "tell": []v1Fact{}}, &m, true))
	count("after bulk delete", 0)
}

func sdkV1AuthorizeResources(t *testing.T, c *goSDK) {
	c.must(c.policy(sdkRepoPolicy))
	user, acme, anvil, coyote := val("User", "1"), val("Repo", "2"), val("Repo", "3"), val("Repo", "4")
	c.must(c.tell(fact("has_role", user, str("member"), acme)))
	c.must(c.tell(fact("has_role", user, str("member"), anvil)))
	for _, tc := range []struct {
		name      string
		resources []sdkValue
		want      []sdkValue
	}{
		{"empty", []sdkValue{}, nil},
		{"match all", []sdkValue{acme, anvil}, []sdkValue{acme, anvil}},
		{"match some", []sdkValue{acme, coyote}, []sdkValue{acme}},
		{"match none", []sdkValue{coyote}, nil},
	} {
		got, err := c.authorizeResources(user, "read", tc.resources)
		wantNoErr(t, tc.name, got, err, tc.want)
	}

	// With context facts (the v1 TestContextFacts).
	c.must(c.policy(sdkContextFactsPolicy))
	u, a, b := val("User", "5"), val("Repo", "6"), val("Repo", "7")
	got, err := c.authorizeResources(u, "read", []sdkValue{a, b})
	wantNoErr(t, "no context", got, err, nil)
	got, err = c.authorizeResources(u, "read", []sdkValue{a, b}, fact("has_role", u, str("member"), a))
	wantNoErr(t, "context on acme", got, err, []sdkValue{a})
	got, err = c.authorizeResources(u, "read", []sdkValue{a, b}, fact("has_role", u, str("member"), b))
	wantNoErr(t, "context on anvil", got, err, []sdkValue{b})

	c.must(c.v1Delete(fact("has_role", user, str("member"), acme)))
	c.must(c.v1Delete(fact("has_role", user, str("member"), anvil)))
}

func sdkV1Query(t *testing.T, c *goSDK) {
	c.must(c.policy(`
		actor User {}
		resource Computer {}

		hello(friend) if
			is_friendly(friend);

		something_else(friend, other_friend, _anybody) if
			is_friendly(friend) and is_friendly(other_friend);
	`))
	sam, gabe, steve := val("User", "1"), val("User", "2"), val("Computer", "3")
	for _, v := range []sdkValue{sam, gabe, steve} {
		c.must(c.tell(fact("is_friendly", v)))
	}
	query := func(arg sdkPatternValue) ([]v1Fact, error) {
		var out struct {
			Results []v1Fact `json:"results"`
		}
		err := c.call(http.MethodPost, "/query", nil, map[string]any{
			"fact":          v1Fact{Predicate: "hello", Args: []sdkPatternValue{arg}},
			"context_facts": []v1Fact{},
		}, &out, false)
		return out.Results, err
	}
	sortFacts := cmpopts.SortSlices(func(a, b v1Fact) bool { return *a.Args[0].ID < *b.Args[0].ID })
	got, err := query(anyArg())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(v1Facts(fact("hello", sam), fact("hello", gabe), fact("hello", steve)), got, sortFacts); d != "" {
		t.Errorf("query hello(_) (-want +got):\n%s", d)
	}
	got, err = query(ofType("User"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(v1Facts(fact("hello", sam), fact("hello", gabe)), got, sortFacts); d != "" {
		t.Errorf("query hello(User) (-want +got):\n%s", d)
	}
	for _, v := range []sdkValue{sam, gabe, steve} {
		c.must(c.v1Delete(fact("is_friendly", v)))
	}
}

func sdkV1BulkActions(t *testing.T, c *goSDK) {
	c.must(c.policy(`
		actor User {}

		resource Repo {
			roles = ["member", "admin"];
			permissions = ["read", "delete"];
			"read" if "member";
			"member" if "admin";
			"delete" if "admin";
		}
	`))
	user, acme, anvil, coyote := val("User", "1"), val("Repo", "2"), val("Repo", "3"), val("Repo", "4")
	c.must(c.tell(fact("has_role", user, str("admin"), acme)))
	c.must(c.tell(fact("has_role", user, str("member"), anvil)))

	bulk := func(resources []sdkValue, ctx ...sdkFact) ([][]string, error) {
		queries := []map[string]any{}
		for i, r := range resources {
			cf := []v1Fact{}
			if i == 0 { // v1 sends the context facts with the first query only
				cf = v1Facts(ctx...)
			}
			queries = append(queries, map[string]any{
				"actor_type": user.Type, "actor_id": user.ID,
				"resource_type": r.Type, "resource_id": r.ID, "context_facts": cf,
			})
		}
		var out []struct {
			Results []string `json:"results"`
		}
		err := c.call(http.MethodPost, "/bulk_actions", nil, queries, &out, false)
		res := [][]string{}
		for _, o := range out {
			res = append(res, o.Results)
		}
		return res, err
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	got, err := bulk(nil)
	wantNoErr(t, "empty", got, err, nil)
	got, err = bulk([]sdkValue{acme, anvil, coyote})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]string{{"read", "delete"}, {"read"}, {}}, got, sorted, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("bulk actions (-want +got):\n%s", d)
	}
	// The first query's context facts hold for the whole request.
	got, err = bulk([]sdkValue{acme, anvil, coyote}, fact("has_role", user, str("member"), coyote))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]string{{"read", "delete"}, {"read"}, {"read"}}, got, sorted, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("bulk actions with context (-want +got):\n%s", d)
	}

	c.must(c.v1Delete(fact("has_role", user, str("admin"), acme)))
	c.must(c.v1Delete(fact("has_role", user, str("member"), anvil)))
}
