package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"
)

// The OpenAPI document is kept true three ways: it is a valid OpenAPI 3.1
// document (TestOpenAPIDocument); its operations are exactly the router's
// routes (TestOpenAPIRoutes); and every response of every test that goes
// through newTestEnvOn validates against it (validateResponses, the
// handler of the test server), as does the answer to each operation's
// example (TestOpenAPIExamples). kin-openapi validates 3.1 documents with
// its JSON Schema 2020-12 validator (type arrays such as [string, "null"],
// const).

// openapiSpec is the served document, loaded and its router built once per
// test binary.
var openapiSpec = sync.OnceValues(func() (*openapiDoc, error) {
	body, err := openapiJSON()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &openapiDoc{doc: doc, router: router}, nil
})

type openapiDoc struct {
	doc    *openapi3.T
	router routers.Router
}

func mustSpec(t testing.TB) *openapiDoc {
	t.Helper()
	d, err := openapiSpec()
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	return d
}

func TestOpenAPIDocument(t *testing.T) {
	d := mustSpec(t)
	if !d.doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", d.doc.OpenAPI)
	}
	if err := d.doc.Validate(t.Context()); err != nil {
		t.Fatalf("the document is not valid: %v", err)
	}
	for path, item := range d.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: needs an operationId and a summary", method, path)
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Example == nil && len(mt.Examples) == 0 {
					t.Errorf("%s %s: the request body has no example", method, path)
				}
			}
		}
	}
}

// TestOpenAPIRoutes checks that every route of the router is an operation
// of the document and the reverse, naming each one missing.
func TestOpenAPIRoutes(t *testing.T) {
	e := newTestEnv(t, nil)
	var routes []string
	err := chi.Walk(e.srv.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range mustSpec(t).doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in server/openapi.yaml: document it (request, responses, an example)", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("server/openapi.yaml documents %s, which the router does not serve", d)
		}
	}
}

// TestOpenAPIServed checks /openapi.json and the redirect of a browser at /.
func TestOpenAPIServed(t *testing.T) {
	e := newAdminEnv(t, nil)
	e.key = "" // no key needed
	res := e.must(t, http.StatusOK, http.MethodGet, "/openapi.json", nil)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	res.json(t, &doc)
	if doc.OpenAPI != "3.1.0" || doc.Paths["/api/authorize"] == nil {
		t.Errorf("GET /openapi.json = openapi %q, paths %v", doc.OpenAPI, slices.Sorted(maps.Keys(doc.Paths)))
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, accept string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.ts.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	if res := get("/", browser); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/" {
		t.Errorf("a browser at / got %d Location %q, want 303 to the console, /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	for _, accept := range []string{"", "application/json", "*/*"} {
		res := e.do(t, http.MethodGet, "/", nil, "Accept", accept)
		if res.status != http.StatusNotFound || res.envelope(t).Code != codeNotFound {
			t.Errorf("an API client (Accept %q) at / got %d %s, want the 404 envelope", accept, res.status, res.body)
		}
	}
	for _, dir := range []string{"/docs", "/ui"} {
		if res := get(dir, browser); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != dir+"/" {
			t.Errorf("GET %s = %d %q, want 301 to %s/", dir, res.StatusCode, res.Header.Get("Location"), dir)
		}
	}
	for _, path := range []string{"/docs/", "/docs/docs.js", "/docs/vendor/swagger-ui-bundle.js", "/docs/vendor/swagger-ui.css", "/docs/vendor/LICENSE",
		"/ui/", "/ui/console.css", "/ui/js/app.js", "/ui/js/policy.js"} {
		res := get(path, browser)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.StatusCode)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q, want scripts from self only", path, csp)
		}
		if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: X-Frame-Options %q, X-Content-Type-Options %q, want DENY and nosniff", path, res.Header.Get("X-Frame-Options"), res.Header.Get("X-Content-Type-Options"))
		}
	}
	if res := get("/ui/js/app.js", browser); !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /ui/js/app.js: Content-Type %q, want text/javascript (a module is refused otherwise under nosniff)", res.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/ui/nosuch.js", "/docs/nosuch.js", "/ui/js/nosuch", "/ui/js/", "/docs/vendor/"} {
		if res := e.do(t, http.MethodGet, path, nil); res.status != http.StatusNotFound || res.envelope(t).Code != codeNotFound {
			t.Errorf("GET %s = %d %s, want the 404 envelope", path, res.status, res.body)
		}
	}
	// The console has no inline script or style, and loads its code as a module.
	console := e.must(t, http.StatusOK, http.MethodGet, "/ui/", nil)
	for _, bad := range []string{"<script>", "style=", "<style", "onclick=", "onload="} {
		if bytes.Contains(console.body, []byte(bad)) {
			t.Errorf("/ui/ has %q: no inline script or style under the Content-Security-Policy", bad)
		}
	}
	if !bytes.Contains(console.body, []byte(`<script type="module" src="js/app.js"></script>`)) {
		t.Errorf("/ui/ does not load js/app.js as a module:\n%s", console.body)
	}
	page := e.must(t, http.StatusOK, http.MethodGet, "/docs/", nil)
	if bytes.Contains(page.body, []byte("<script>")) || !bytes.Contains(page.body, []byte(`src="vendor/swagger-ui-bundle.js"`)) {
		t.Errorf("/docs/ must load the vendored Swagger UI and have no inline script:\n%s", page.body)
	}
}

// TestOpenAPIExamples sends every operation's request example (or no body)
// to a server with the test policy and facts, and validates the request and
// the response against the document: the examples are true, and each route
// answers as documented.
func TestOpenAPIExamples(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "String:owner", "Organization:acme"),
		fact("has_relation", "Repository:anvil", "String:parent", "Organization:acme"))
	d := mustSpec(t)
	for _, path := range d.doc.Paths.InMatchingOrder() {
		item := d.doc.Paths.Value(path)
		for method, op := range item.Operations() {
			t.Run(method+" "+path, func(t *testing.T) {
				url := strings.NewReplacer("{version}", "1", "{id}", "nosuchkey", "/docs/*", "/docs/vendor/LICENSE", "/ui/*", "/ui/console.css").Replace(path)
				if strings.HasSuffix(path, "*") { // static files: no schema
					e.must(t, http.StatusOK, method, url, nil)
					return
				}
				var body []byte
				contentType := "application/json"
				if op.RequestBody != nil {
					contentType = slices.Sorted(maps.Keys(op.RequestBody.Value.Content))[0]
					ex := op.RequestBody.Value.Content[contentType].Example
					if raw, ok := ex.(string); ok && contentType != "application/json" {
						body = []byte(raw) // a stream, as is
					} else if ex == nil {
						t.Skipf("no request example for %s", contentType) // streams (restore) only: see TestOpenAPIDocument
					} else {
						js, err := json.Marshal(ex)
						if err != nil {
							t.Fatal(err)
						}
						body = js
					}
				}
				req := httptest.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", contentType)
				route, params, err := d.router.FindRoute(req)
				if err != nil {
					t.Fatalf("FindRoute: %v", err)
				}
				in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
					Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
				if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil {
					t.Errorf("the example request does not validate: %v", err)
				}
				req.Body = io.NopCloser(bytes.NewReader(body))
				res := e.do(t, method, url, body, "Content-Type", contentType)
				if res.status >= 500 || (body != nil && res.status >= 300) {
					t.Errorf("%s %s with the example = %d %s", method, url, res.status, res.body)
				}
				// The response itself was validated by the test server.
			})
		}
	}
}

// validateResponses wraps the server of a test: every response is checked
// against the OpenAPI document (status, content type, body), and a
// mismatch fails the test. A path the document does not know (an unknown
// endpoint) must answer the error envelope.
func validateResponses(t testing.TB, next http.Handler) http.Handler {
	d := mustSpec(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, findErr := d.router.FindRoute(r)
		rec := &teeWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.Method == http.MethodHead || ((strings.HasPrefix(r.URL.Path, "/docs/") || strings.HasPrefix(r.URL.Path, "/ui/")) && rec.status < 400) {
			return
		}
		if findErr != nil {
			if rec.status < 400 {
				t.Errorf("%s %s is not in the OpenAPI document but answered %d", r.Method, r.URL.Path, rec.status)
				return
			}
			if err := validateEnvelope(d, rec.body.Bytes()); err != nil {
				t.Errorf("%s %s: %d answer is not the error envelope: %v\n%s", r.Method, r.URL.Path, rec.status, err, rec.body.Bytes())
			}
			return
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
			Status:                 rec.status,
			Header:                 w.Header(),
			Body:                   io.NopCloser(bytes.NewReader(rec.body.Bytes())),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s: the %d response does not match the OpenAPI document: %v\nbody: %.2000s", r.Method, r.URL.Path, rec.status, err, rec.body.Bytes())
		}
	})
}

func validateEnvelope(d *openapiDoc, body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return d.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// teeWriter passes a response through and keeps a copy of it.
type teeWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (w *teeWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
