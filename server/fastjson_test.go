package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// decodeStrict is the reference: encoding/json, strictly.
func decodeStrict(body string) (authorizeRequest, error) {
	var req authorizeRequest
	r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
	err := decodeJSON(r, &req)
	return req, err
}

var scanCases = []struct {
	name string
	body string
	fast bool // the scanner takes it
}{
	{"plain", `{"actor_type":"User","actor_id":"alice","action":"read","resource_type":"Repo","resource_id":"anvil"}`, true},
	{"spaces and empty context", " {\n \"actor_type\" : \"User\", \"actor_id\":\"a\",\"action\":\"read\",\"resource_type\":\"R\",\"resource_id\":\"r\",\"context_facts\": [ ] } \n", true},
	{"null context", `{"actor_type":"User","actor_id":"a","action":"read","resource_type":"R","resource_id":"r","context_facts":null}`, true},
	{"partial", `{"actor_type":"User"}`, true},
	{"unicode", `{"actor_type":"Usér","actor_id":"日本"}`, true},
	{"escapes", `{"actor_type":"U\"ser","actor_id":"a\u0041"}`, false},
	{"context facts", `{"actor_type":"User","context_facts":[{"predicate":"p","args":[{"type":"A","id":"b"}]}]}`, false},
	{"unknown key", `{"actor_type":"User","bogus":"x"}`, false},
	{"repeated key", `{"actor_type":"User","actor_type":"Team"}`, false},
	{"number", `{"actor_type":3}`, false},
	{"null value", `{"actor_type":null}`, false},
	{"empty object", `{}`, false},
	{"trailing data", `{"actor_type":"User"} {}`, false},
	{"trailing comma", `{"actor_type":"User",}`, false},
	{"unterminated", `{"actor_type":"User"`, false},
	{"invalid utf8", "{\"actor_type\":\"U\xffser\"}", false},
	{"control char", "{\"actor_type\":\"U\tser\"}", false},
	{"not an object", `["actor_type"]`, false},
	{"empty", ``, false},
}

// TestScanAuthorize checks that the fast scan, when it takes a body,
// decodes exactly what encoding/json decodes.
func TestScanAuthorize(t *testing.T) {
	for _, tc := range scanCases {
		t.Run(tc.name, func(t *testing.T) {
			var got authorizeRequest
			ok := scanAuthorize([]byte(tc.body), &got)
			if ok != tc.fast {
				t.Fatalf("scanAuthorize took it: %v, want %v", ok, tc.fast)
			}
			if !ok {
				return
			}
			want, err := decodeStrict(tc.body)
			if err != nil {
				t.Fatalf("encoding/json refuses what the scan took: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-encoding/json +scan):\n%s", diff)
			}
		})
	}
}

// FuzzScanAuthorize checks the scan against encoding/json on any body.
func FuzzScanAuthorize(f *testing.F) {
	for _, tc := range scanCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got authorizeRequest
		if !scanAuthorize([]byte(body), &got) {
			return
		}
		want, err := decodeStrict(body)
		if err != nil {
			t.Fatalf("scan took %q, the checked decoder refuses it: %v", body, err)
		}
		if !cmp.Equal(want, got, cmpopts.EquateEmpty()) {
			w, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			t.Fatalf("body %q: encoding/json %s, scan %s", body, w, g)
		}
	})
}

// BenchmarkDecode measures request decoding alone: the fast authorize
// scan, the authorize fallback with context facts, and a batch of facts
// through the generic decoder.
func BenchmarkDecode(b *testing.B) {
	ctxFact := `{"predicate":"has_role","args":[{"type":"User","id":"u7"},{"type":"String","id":"member"},{"type":"Organization","id":"o7"}]}`
	facts := make([]string, 100)
	for i := range facts {
		facts[i] = ctxFact
	}
	batch := `[{"inserts":[` + strings.Join(facts, ",") + `]}]`
	authz := `{"actor_type":"User","actor_id":"u7","action":"read","resource_type":"Repository","resource_id":"r17","context_facts":[]}`
	withContext := `{"actor_type":"User","actor_id":"u7","action":"read","resource_type":"Repository","resource_id":"r17","context_facts":[` + ctxFact + `]}`
	for _, bc := range []struct{ name, body string }{{"authorize/fast", authz}, {"authorize/context_facts", withContext}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var req authorizeRequest
				r := httptest.NewRequest("POST", "/", strings.NewReader(bc.body))
				if err := decodeAuthorize(r, &req); err != nil {
					b.Fatal(err)
				}
				benchSink += len(*req.ActorID) + len(req.ContextFacts)
			}
		})
	}
	b.Run("batch/facts=100", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(batch)))
		for b.Loop() {
			var req []changeset
			r := httptest.NewRequest("POST", "/", strings.NewReader(batch))
			if err := decodeJSON(r, &req); err != nil {
				b.Fatal(err)
			}
			benchSink += len(req)
		}
	})
}
