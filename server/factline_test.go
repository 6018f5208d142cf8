package server

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

var factLineCases = []struct {
	name string
	line string
	fast bool // the scan takes it
}{
	{"plain", `{"predicate":"has_role","args":[{"type":"User","id":"alice"},{"type":"String","id":"reader"},{"type":"Repository","id":"anvil"}]}`, true},
	{"spaces", " { \"args\" : [ { \"id\" : \"alice\" , \"type\" : \"User\" } ] ,\t\"predicate\" : \"is_public\" } ", true},
	{"integer", `{"predicate":"p","args":[{"type":"Integer","id":"007"}]}`, true},
	{"boolean", `{"predicate":"p","args":[{"type":"Boolean","id":"true"}]}`, true},
	{"unicode", `{"predicate":"p","args":[{"type":"User","id":"zoë ☃"}]}`, true},
	{"escape", `{"predicate":"p","args":[{"type":"User","id":"a\"b"}]}`, false},
	{"unicode escape", `{"predicate":"p","args":[{"type":"User","id":"\u00e9"}]}`, false},
	{"bad integer", `{"predicate":"p","args":[{"type":"Integer","id":"x"}]}`, false},
	{"bad boolean", `{"predicate":"p","args":[{"type":"Boolean","id":"True"}]}`, false},
	{"unknown key", `{"predicate":"p","args":[{"type":"User","id":"a"}],"x":1}`, false},
	{"unknown value key", `{"predicate":"p","args":[{"type":"User","id":"a","x":"y"}]}`, false},
	{"repeated key", `{"predicate":"p","predicate":"q","args":[{"type":"User","id":"a"}]}`, false},
	{"repeated value key", `{"predicate":"p","args":[{"type":"User","id":"a","id":"b"}]}`, false},
	{"cased key", `{"Predicate":"p","args":[{"type":"User","id":"a"}]}`, false},
	{"cased value key", `{"predicate":"p","args":[{"TYPE":"User","id":"a"}]}`, false},
	{"no predicate", `{"args":[{"type":"User","id":"a"}]}`, false},
	{"empty predicate", `{"predicate":"","args":[{"type":"User","id":"a"}]}`, false},
	{"null predicate", `{"predicate":null,"args":[{"type":"User","id":"a"}]}`, false},
	{"no args", `{"predicate":"p"}`, false},
	{"empty args", `{"predicate":"p","args":[]}`, false},
	{"null args", `{"predicate":"p","args":null}`, false},
	{"no id", `{"predicate":"p","args":[{"type":"User"}]}`, false},
	{"empty id", `{"predicate":"p","args":[{"type":"User","id":""}]}`, false},
	{"null type", `{"predicate":"p","args":[{"type":null,"id":"a"}]}`, false},
	{"number id", `{"predicate":"p","args":[{"type":"Integer","id":7}]}`, false},
	{"empty value", `{"predicate":"p","args":[{}]}`, false},
	{"invalid UTF-8", "{\"predicate\":\"p\",\"args\":[{\"type\":\"User\",\"id\":\"\xff\"}]}", false},
	{"control character", "{\"predicate\":\"p\",\"args\":[{\"type\":\"User\",\"id\":\"a\tb\"}]}", false},
	{"trailing data", `{"predicate":"p","args":[{"type":"User","id":"a"}]} {}`, false},
	{"trailing comma", `{"predicate":"p","args":[{"type":"User","id":"a"},]}`, false},
	{"truncated", `{"predicate":"p","args":[{"type":"User","id":"a"}]`, false},
	{"array", `[]`, false},
	{"empty", ``, false},
}

// TestDecodeFactLine checks the fast scan against the reference on each
// case: what it takes decodes to what the reference gives, and what it
// leaves gets the reference's answer through decode.
func TestDecodeFactLine(t *testing.T) {
	d := newFactDecoder()
	for _, tc := range factLineCases {
		t.Run(tc.name, func(t *testing.T) {
			_, fast := d.scan([]byte(tc.line))
			if fast != tc.fast {
				t.Errorf("scan took it: %v, want %v", fast, tc.fast)
			}
			checkFactLine(t, d, tc.line)
		})
	}
}

// checkFactLine fails unless d.decode gives on line exactly what the
// reference decoder gives, and the scan takes only lines the reference
// accepts.
func checkFactLine(t *testing.T, d *factDecoder, line string) {
	t.Helper()
	want, wantErr := decodeFactLine([]byte(line))
	got, fast := d.scan([]byte(line))
	if fast && wantErr != nil {
		t.Fatalf("scan took %q, the reference refuses it: %v", line, wantErr)
	}
	if !fast {
		got, _ = d.decode([]byte(line))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("line %q (-reference +decoder):\n%s", line, diff)
	}
	_, gotErr := d.decode([]byte(line))
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("line %q: decoder error %v, reference %v", line, gotErr, wantErr)
	}
}

// FuzzDecodeFactLine ties the fast import line decoder to the reference
// (checkJSON, encoding/json, toFact) on any line.
func FuzzDecodeFactLine(f *testing.F) {
	for _, tc := range factLineCases {
		f.Add(tc.line)
	}
	d := newFactDecoder()
	f.Fuzz(func(t *testing.T, line string) {
		checkFactLine(t, d, line)
	})
}

// BenchmarkDecodeFactLine measures decoding one import line, fast and by
// the reference.
func BenchmarkDecodeFactLine(b *testing.B) {
	line := []byte(factLineCases[0].line)
	b.Run("fast", func(b *testing.B) {
		d := newFactDecoder()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.decode(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeFactLine(line); err != nil {
				b.Fatal(err)
			}
		}
	})
}
