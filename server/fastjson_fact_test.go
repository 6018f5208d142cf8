package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/term"
)

var factScanCases = []struct {
	name string
	body string
	fast bool // the scanner takes it
}{
	{"plain", `{"predicate":"has_role","args":[{"type":"User","id":"alice"},{"type":"String","id":"reader"},{"type":"Repository","id":"anvil"}]}`, true},
	{"spaces", " {\n \"predicate\" : \"p\" , \"args\" : [ { \"type\" : \"A\" , \"id\" : \"b\" } ] } \n", true},
	{"wildcards", `{"predicate":null,"args":[{"type":null,"id":"b"},{"type":"A","id":null},{}]}`, true},
	{"window", `{"predicate":"p","args":[{"type":"A","id":"b"}],"valid_from":"2027-01-01T00:00:00Z","valid_until":"2028-01-01T00:00:00Z"}`, true},
	{"no args", `{"predicate":"p","args":[]}`, true},
	{"empty object", `{}`, true},
	{"key order", `{"args":[{"id":"b","type":"A"}],"predicate":"p"}`, true},
	{"unicode", `{"predicate":"p","args":[{"type":"Usér","id":"日本"}]}`, true},
	{"escapes", `{"predicate":"p","args":[{"type":"A","id":"b\"c"}]}`, false},
	{"unicode escape", `{"predicate":"p\u0041","args":[]}`, false},
	{"unknown key", `{"predicate":"p","args":[],"bogus":1}`, false},
	{"unknown value key", `{"predicate":"p","args":[{"type":"A","id":"b","x":"y"}]}`, false},
	{"case-folded key", `{"Predicate":"p","args":[]}`, false},
	{"repeated key", `{"predicate":"p","predicate":"q"}`, false},
	{"repeated value key", `{"predicate":"p","args":[{"type":"A","type":"B"}]}`, false},
	{"number id", `{"predicate":"p","args":[{"type":"Integer","id":3}]}`, false},
	{"null args", `{"predicate":"p","args":null}`, false},
	{"null arg", `{"predicate":"p","args":[null]}`, false},
	{"null window", `{"predicate":"p","args":[],"valid_from":null}`, false},
	{"nul", `{"predicate":nul,"args":[]}`, false},
	{"nullx", `{"predicate":nullx,"args":[]}`, false},
	{"trailing data", `{"predicate":"p"} {}`, false},
	{"trailing comma", `{"predicate":"p",}`, false},
	{"trailing comma in args", `{"predicate":"p","args":[{"type":"A","id":"b"},]}`, false},
	{"unterminated", `{"predicate":"p","args":[`, false},
	{"invalid utf8", "{\"predicate\":\"p\xff\"}", false},
	{"control char", "{\"predicate\":\"p\tq\"}", false},
	{"array", `[{"predicate":"p"}]`, false},
	{"empty", ``, false},
}

// decodeFactStrict is the reference: encoding/json, strictly.
func decodeFactStrict(body string) (wireFact, error) {
	var w wireFact
	r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
	err := decodeJSON(r, &w)
	return w, err
}

// TestScanFact checks that the fast scan of a fact body, when it takes
// one, decodes exactly what encoding/json decodes, and that decodeFact
// answers what decodeJSON answers, errors included.
func TestScanFact(t *testing.T) {
	for _, tc := range factScanCases {
		t.Run(tc.name, func(t *testing.T) {
			var got wireFact
			ok := scanFact([]byte(tc.body), &got)
			if ok != tc.fast {
				t.Fatalf("scanFact took it: %v, want %v", ok, tc.fast)
			}
			want, werr := decodeFactStrict(tc.body)
			if ok {
				if werr != nil {
					t.Fatalf("encoding/json refuses what the scan took: %v", werr)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("(-encoding/json +scan):\n%s", diff)
				}
			}
			var dec wireFact
			derr := decodeFact(httptest.NewRequest("POST", "/", strings.NewReader(tc.body)), &dec)
			if (derr == nil) != (werr == nil) || (derr != nil && derr.Error() != werr.Error()) {
				t.Fatalf("decodeFact: %v, decodeJSON: %v", derr, werr)
			}
			if diff := cmp.Diff(want, dec, cmpopts.EquateEmpty()); derr == nil && diff != "" {
				t.Errorf("decodeFact (-encoding/json +decodeFact):\n%s", diff)
			}
		})
	}
}

// FuzzScanFact checks the fact scan against encoding/json on any body.
func FuzzScanFact(f *testing.F) {
	for _, tc := range factScanCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got wireFact
		if !scanFact([]byte(body), &got) {
			return
		}
		want, err := decodeFactStrict(body)
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

// TestWriteFact checks that the direct answer of a fact is, byte for
// byte and header for header, what writeJSON of toOutFact gives.
func TestWriteFact(t *testing.T) {
	facts := []term.Fact{
		{Predicate: "has_role", Args: []term.Value{term.Entity("User", "alice"), term.String("reader"), term.Entity("Repository", "anvil")}},
		{Predicate: "p", Args: []term.Value{term.Entity("A", `b"c\d`)}},
		{Predicate: "p<>&", Args: []term.Value{term.Entity("A", "b")}},
		{Predicate: "p", Args: []term.Value{term.Entity("A", "日本")}},
		{Predicate: "p", Args: []term.Value{term.Entity("A", "<b>")}},
		{Predicate: "p", Args: []term.Value{term.Entity("A", "b\u2028")}},
		{Predicate: "p", Args: []term.Value{term.Entity("A", "b")}, Valid: term.Window{Until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, f := range facts {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(want, 200, toOutFact(f))
		writeFact(got, f)
		if want.Body.String() != got.Body.String() || want.Code != got.Code {
			t.Errorf("%v: writeJSON %d %q, writeFact %d %q", f, want.Code, want.Body, got.Code, got.Body)
		}
		if diff := cmp.Diff(want.Header(), got.Header()); diff != "" {
			t.Errorf("%v: headers (-writeJSON +writeFact):\n%s", f, diff)
		}
	}
	for _, rev := range []uint64{0, 7, 1 << 40} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(want, 200, message{Message: fmt.Sprintf("ok (revision %d)", rev)})
		writeMessage(got, rev)
		if want.Body.String() != got.Body.String() || cmp.Diff(want.Header(), got.Header()) != "" {
			t.Errorf("revision %d: writeJSON %q %v, writeMessage %q %v", rev, want.Body, want.Header(), got.Body, got.Header())
		}
	}
}
