package edit

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"role", "role", 0},
		{"", "abc", 3},
		{"maintaner", "maintainer", 1},
		{"parnt", "parent", 1},
		{"on", "onn", 1},
		{"kitten", "sitting", 3},
		{strings.Repeat("a", MaxLen+1), "a", MaxLen},
		{"a", strings.Repeat("a", MaxLen+1), MaxLen},
	}
	for _, tc := range tests {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetry)", tc.b, tc.a, got, tc.want)
		}
	}
}
