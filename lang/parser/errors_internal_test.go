package parser

import "testing"

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
