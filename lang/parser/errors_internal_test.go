package parser

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitExpected(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`";"`, []string{"';'"}},
		{`<ident> ","?`, []string{"a name"}},
		{`"(" PArgs`, []string{"'('"}},
		{`PName+`, []string{"a name"}},
		{`("{" PSetupItem* "}") | (PCall PIff? ";")`, []string{"'{'", "a call"}},
		{`PIff? ";"`, []string{"'iff'", "';'"}},
		{`(`, nil},
		{`"unterminated`, nil},
		{`PUnknown`, nil},
	}
	for _, tc := range tests {
		if got := splitExpected(tc.in); !cmp.Equal(got, tc.want) {
			t.Errorf("splitExpected(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	words := []string{"on", "roles", "permissions", "relations", "resource"}
	tests := map[string]string{
		"onn": "on", "role": "roles", "permisions": "permissions", "relation": "relations",
		"resouce": "resource", "x": "", "o": "on", "rolesxyz": "", "": "",
	}
	for in, want := range tests {
		if got := nearest(in, words); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}
