package policy_test

import (
	"errors"
	"testing"

	"github.com/castellan-authz/castellan/policy"
)

// TestValidate: what an upload would check, reported as data: errors with
// positions, every test's result; files that cannot make a policy are
// the only error.
func TestValidate(t *testing.T) {
	tests := []struct {
		name               string
		src                string
		valid              bool
		errors, testsTotal int
		testsFailed        int
	}{
		{name: "passing", src: passing, valid: true, testsTotal: 1},
		{name: "no tests", src: docs, valid: true},
		{name: "failing test", src: failing, testsTotal: 1, testsFailed: 1},
		{name: "broken", src: broken, errors: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := policy.Validate(t.Context(), []policy.File{{Filename: "p.polar", Src: tc.src}})
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, tr := range v.Tests {
				if !tr.OK() {
					failed++
				}
			}
			if v.Valid() != tc.valid || (len(v.Errors) > 0) != (tc.errors > 0) || len(v.Tests) != tc.testsTotal || failed != tc.testsFailed {
				t.Errorf("Validate = valid %v, errors %v, tests %+v; want valid %v, %d errors, %d tests (%d failed)",
					v.Valid(), v.Errors, v.Tests, tc.valid, tc.errors, tc.testsTotal, tc.testsFailed)
			}
			for _, e := range v.Errors {
				if e.Pos.File != "p.polar" || e.Pos.Line == 0 {
					t.Errorf("error without a position: %v", e)
				}
			}
		})
	}
	if _, err := policy.Validate(t.Context(), []policy.File{{Filename: "a", Src: docs}, {Filename: "a", Src: docs}}); !errors.Is(err, policy.ErrInvalidFiles) {
		t.Errorf("a filename twice: %v, want ErrInvalidFiles", err)
	}
}
