package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store/memory"
)

// fuzzRoutes are the endpoints FuzzAPI sends bodies to.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/batch"},
	{"POST", "/api/authorize"},
	{"POST", "/api/authorize?explain=true"},
	{"POST", "/api/list"},
	{"POST", "/api/actions"},
	{"POST", "/api/evaluate_query"},
	{"POST", "/api/query"},
	{"POST", "/api/authorize_resources"},
	{"POST", "/api/bulk_actions"},
	{"POST", "/api/bulk"},
	{"POST", "/api/facts"},
	{"DELETE", "/api/facts"},
	{"POST", "/api/policy"},
	{"POST", "/access/v1/evaluation"},
	{"POST", "/access/v1/evaluations"},
	{"POST", "/access/v1/search/subject"},
	{"POST", "/access/v1/search/resource"},
	{"POST", "/access/v1/search/action"},
	{"POST", "/admin/v1/keys"},
	{"GET", "/api/facts?predicate=has_role&args.0.type=User"},
}

// FuzzAPI checks that no body makes any endpoint fail with a 5xx or answer
// something other than JSON.
func FuzzAPI(f *testing.F) {
	seeds := []string{
		`[{"inserts":[{"predicate":"has_role","args":[{"type":"User","id":"a"},{"type":"String","id":"owner"},{"type":"Organization","id":"o"}]}]}]`,
		`[{"deletes":[{"predicate":null,"args":[{"type":null,"id":null}]}]}]`,
		`{"actor_type":"User","actor_id":"a","action":"read","resource_type":"Organization","resource_id":"o","context_facts":[{"predicate":"has_role","args":[{"type":"User","id":"a"},{"type":"String","id":"member"},{"type":"Organization","id":"o"}]}]}`,
		`{"actor_type":"User","actor_id":"a","action":"read","resource_type":"Repository","page_size":1,"page_token":"x"}`,
		`{"predicate":["allow",["u","a","r"]],"calls":[["has_role",["u","x","r"]]],"constraints":{"u":{"type":"User","ids":["a"]},"a":{"type":"String","ids":null},"r":{"type":"Repository","ids":null},"x":{"type":"String"}}}`,
		`{"fact":{"predicate":"has_role","args":[{"type":null,"id":null},{"type":"String","id":"owner"},{"type":"Integer","id":"007"}]}}`,
		`{"subject":{"type":"User","id":"a"},"action":{"name":"read"},"resource":{"type":"Repository"},"page":{"limit":1,"token":"eA"},"context":{"context_facts":[]}}`,
		`{"subject":{"type":"User"},"evaluations":[{},{"action":{"name":"x"}}],"options":{"evaluations_semantic":"deny_on_first_deny"}}`,
		`{"filename":null,"src":"actor User {}\nresource R { roles = [\"a\"]; permissions = [\"p\"]; \"p\" if \"a\"; }"}`,
		`{"files":[{"filename":"a","src":"test \"t\" { assert allow(User{\"a\"}, \"p\", R{\"r\"}); }"}]}`,
		`{"name":"k","scope":"read"}`,
		`{"delete":[{"predicate":"has_role","args":[{"type":"User","id":null}]}],"tell":[]}`,
		`[{"actor_type":"User","actor_id":"a","resource_type":"R","resource_id":"r"}]`,
		`null`, `[]`, `{}`, `"x"`, `1e999`, `{"args":[{"type":"Boolean","id":"maybe"}]}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	st := memory.New()
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.MaxContextFacts = 5
	cfg.MaxBatchFacts = 50
	cfg.MaxPageSize = 10
	srv, err := New(f.Context(), cfg, st, WithLogger(zerolog.New(io.Discard)))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := srv.Policies().Load(f.Context(), []policy.File{{Filename: "p.polar", Src: testPolicy}}, "fuzz"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequestWithContext(t.Context(), rt.method, rt.path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: not JSON: %q", rt.method, rt.path, body, rec.Body)
		}
	})
}

// checkJSONReference is the slow reference of checkJSON for bodies
// encoding/json accepts: the keys of each object compared pairwise as
// encoding/json matches them (bytes.EqualFold after unescaping), and
// every string, raw, valid UTF-8 without a lone surrogate escape.
func checkJSONReference(body []byte) (dup, notUTF8 bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var objects [][]string // keys of the open objects; nil for arrays
	var inKeyPos []bool    // per open container: next string token is a key
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				objects = append(objects, []string{})
				inKeyPos = append(inKeyPos, true)
				continue
			case '[':
				objects = append(objects, nil)
				inKeyPos = append(inKeyPos, false)
				continue
			default:
				objects = objects[:len(objects)-1]
				inKeyPos = inKeyPos[:len(inKeyPos)-1]
			}
		case string:
			if n := len(objects); n > 0 && objects[n-1] != nil && inKeyPos[n-1] {
				for _, k := range objects[n-1] {
					if strings.EqualFold(k, tok) {
						dup = true
					}
				}
				objects[n-1] = append(objects[n-1], tok)
				inKeyPos[n-1] = false
				continue
			}
		}
		// A value ended: in an object, a key comes next.
		if n := len(objects); n > 0 && objects[n-1] != nil {
			inKeyPos[n-1] = true
		}
	}
	return dup, !utf8.Valid(body) || hasLoneSurrogate(body)
}

// hasLoneSurrogate reports whether a \u escape of body is half of a
// surrogate pair without its other half.
func hasLoneSurrogate(body []byte) bool {
	surrogate := func(i int) (rune, bool) {
		if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 32)
		return rune(n), err == nil && utf16.IsSurrogate(rune(n))
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		r, ok := surrogate(i)
		if !ok {
			i++ // skip the escaped character (\\ in particular)
			continue
		}
		if r >= 0xdc00 {
			return true
		}
		r2, ok := surrogate(i + 6)
		if !ok || r2 < 0xdc00 {
			return true
		}
		i += 11
	}
	return false
}

// FuzzCheckJSON checks checkJSON against its reference on bodies that
// encoding/json accepts, and that it never panics on any other.
func FuzzCheckJSON(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.body))
	}
	for _, s := range []string{
		`{"a":1,"A":2}`, `{"a":{"b":1,"b":2}}`, `[{"x":1},{"x":1}]`, `{"a\u0062":1,"ab":2}`, `{"k":"\ud83d\ude00"}`,
		`{"k":"\ud83d"}`, `{"k":"\\ud800"}`, `{"K":1,"\u212a":2}`, "{\"k\":\"\xed\xa0\x80\"}", `{"":1,"":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkJSON(body)
		if err != nil {
			ae, ok := errors.AsType[*apiError](err)
			if !ok || ae.Status != 400 || ae.Code != codeInvalidJSON {
				t.Fatalf("checkJSON(%q) = %v, want a 400 invalid_json", body, err)
			}
		}
		if !json.Valid(body) {
			return
		}
		dup, notUTF8 := checkJSONReference(body)
		if want := dup || notUTF8; want != (err != nil) {
			t.Fatalf("checkJSON(%q) = %v; the reference finds duplicate keys %v, invalid UTF-8 %v", body, err, dup, notUTF8)
		}
	})
}

// fuzzDecoder checks a request decoder on any body: no panic; a refusal
// is a 4xx; a decode keeps no string that encoding/json made up (U+FFFD
// where the body has none).
func fuzzDecoder[T any](f *testing.F, strict bool, seeds []string, convert func(T) error) {
	f.Helper()
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v T
		err := decodeBytes(body, &v, strict)
		if err == nil {
			if bad := firstInvalidString(reflect.ValueOf(v), body); bad != "" {
				t.Fatalf("decoding %q kept %q", body, bad)
			}
			err = convert(v)
		}
		if err == nil {
			return
		}
		if ae := toAPIError(err); ae.Status < 400 || ae.Status >= 500 {
			t.Fatalf("decoding %q: %v is a %d", body, err, ae.Status)
		}
	})
}

// firstInvalidString returns a string of v that is not valid UTF-8, or
// that holds U+FFFD when body spells it nowhere ("" when there is none).
func firstInvalidString(v reflect.Value, body []byte) string {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if !utf8.ValidString(s) {
			return s
		}
		if strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(body, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
			return s
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return firstInvalidString(v.Elem(), body)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "" // json.RawMessage: checked as the body
		}
		for i := range v.Len() {
			if s := firstInvalidString(v.Index(i), body); s != "" {
				return s
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if s := firstInvalidString(it.Key(), body); s != "" {
				return s
			}
			if s := firstInvalidString(it.Value(), body); s != "" {
				return s
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if s := firstInvalidString(v.Field(i), body); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

var factSeeds = []string{
	`[{"inserts":[{"predicate":"has_role","args":[{"type":"User","id":"a"},{"type":"String","id":"owner"},{"type":"Organization","id":"o"}]}]}]`,
	`[{"deletes":[{"predicate":null,"args":[{"type":null,"id":null}]}]}]`,
	`[{"inserts":[{"predicate":"p","args":[{"type":"Integer","id":"007"},{"type":"Boolean","id":"true"}]}]}]`,
	"[{\"inserts\":[{\"predicate\":\"p\",\"args\":[{\"type\":\"User\",\"id\":\"\xffroot\"}]}]}]",
	`[{"inserts":[{"predicate":"p","args":[{"type":"User","id":"\udc00root"}]}]}]`,
	`[{"inserts":[{"predicate":"p","predicate":"q","args":[{"type":"User","id":"a"}]}]}]`,
}

// FuzzDecodeBatch fuzzes the POST /api/batch body and its conversion to
// store operations.
func FuzzDecodeBatch(f *testing.F) {
	fuzzDecoder(f, true, factSeeds, func(req []changeset) error {
		for i, cs := range req {
			if _, err := toFacts(cs.Inserts, fmt.Sprintf("[%d].inserts", i)); err != nil {
				return err
			}
			if _, err := toPatterns(cs.Deletes, fmt.Sprintf("[%d].deletes", i)); err != nil {
				return err
			}
		}
		return nil
	})
}

// FuzzDecodeAuthorize fuzzes the POST /api/authorize body through the
// fallback decoder (FuzzScanAuthorize ties the fast scan to it).
func FuzzDecodeAuthorize(f *testing.F) {
	seeds := []string{`{"actor_type":"User","actor_id":"a","action":"read","resource_type":"R","resource_id":"r","context_facts":[{"predicate":"p","args":[{"type":"User","id":"a"}]}]}`}
	for _, tc := range scanCases {
		seeds = append(seeds, tc.body)
	}
	fuzzDecoder(f, true, seeds, func(req authorizeRequest) error {
		if _, err := toValue(wireValue{req.ActorType, req.ActorID}, "actor"); err != nil {
			return err
		}
		_, err := toFacts(req.ContextFacts, "context_facts")
		return err
	})
}

// FuzzDecodeAuthZEN fuzzes the AuthZEN evaluation(s) and search bodies.
func FuzzDecodeAuthZEN(f *testing.F) {
	seeds := []string{
		`{"subject":{"type":"User","id":"a"},"action":{"name":"read"},"resource":{"type":"Repository","id":"r"},"context":{"context_facts":[]}}`,
		`{"subject":{"type":"User"},"evaluations":[{},{"action":{"name":"x"}}],"options":{"evaluations_semantic":"deny_on_first_deny"}}`,
		`{"subject":{"type":"User","id":"a","properties":{"x":[1,{"y":null}]}},"page":{"limit":1,"token":"eA"}}`,
		`{"subject":{"type":"User","id":"a","id":"b"}}`,
		`{"context":{"ip":"1.2.3.4","IP":"5.6.7.8"}}`,
	}
	fuzzDecoder(f, false, seeds, func(req azEvaluationsRequest) error {
		for _, e := range append([]azTuple{req.azTuple}, req.Evaluations...) {
			if _, err := e.withDefaults(req.azTuple).check(); err != nil {
				return err
			}
		}
		return nil
	})
}

// FuzzDecodeQuery fuzzes the POST /api/evaluate_query body.
func FuzzDecodeQuery(f *testing.F) {
	seeds := []string{
		`{"predicate":["allow",["u","a","r"]],"calls":[["has_role",["u","x","r"]]],"constraints":{"u":{"type":"User","ids":["a"]},"a":{"type":"String","ids":null},"r":{"type":"Repository","ids":null},"x":{"type":"String"}}}`,
		`{"predicate":["allow",["u"]],"constraints":{"u":{"type":"User"},"U":{"type":"User"}}}`,
		`{"predicate":"allow"}`, `{"calls":[[1,2]]}`,
	}
	fuzzDecoder(f, true, seeds, func(evaluateQueryRequest) error { return nil })
}

// FuzzDecodePolicyUpload fuzzes the POST /api/policy body.
func FuzzDecodePolicyUpload(f *testing.F) {
	seeds := []string{
		`{"filename":"p.polar","src":"actor User {}"}`,
		`{"files":[{"filename":"a","src":"actor User {}"},{"filename":"b","src":""}]}`,
		"{\"src\":\"actor \xff {}\"}", `{"src":"a","SRC":"b"}`, `{"files":[]}`,
	}
	fuzzDecoder(f, true, seeds, func(u policyUpload) error {
		_, err := u.files()
		return err
	})
}
