package lang

import "testing"

func TestNearest(t *testing.T) {
	commands := []string{"actions", "authorize", "get", "keys", "list", "policy", "tell", "test", "validate"}
	tests := []struct {
		name, word string
		cands      []string
		want       string
	}{
		{"one edit", "lst", []string{"create", "list", "delete"}, "list"},
		{"two edits", "valdte", commands, "validate"},
		{"case only", "Policy", commands, "policy"},
		{"exact match skipped", "get", []string{"get"}, ""},
		{"first of equals", "tesl", commands, "tell"},
		{"too far", "frobnicate", commands, ""},
		{"more than half of a short word", "ky", commands, ""},
		{"no candidates", "get", nil, ""},
	}
	for _, tc := range tests {
		if got := Nearest(tc.word, tc.cands); got != tc.want {
			t.Errorf("%s: Nearest(%q) = %q, want %q", tc.name, tc.word, got, tc.want)
		}
	}
}
