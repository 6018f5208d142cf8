package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestPolicyTest(t *testing.T) {
	dir := t.TempDir()
	blocks := writePolicy(t, dir, "blocks.polar", `actor User {}
resource Org {
  roles = ["member", "owner"];
  permissions = ["read", "edit"];
  "member" if "owner";
  "read" if "member";
  "edit" if "owner";
}
`)
	good := writePolicy(t, dir, "good.polar", `test "owners edit" {
  setup {
    has_role(User{"bob"}, "owner", Org{"acme"});
  }
  assert allow(User{"bob"}, "edit", Org{"acme"});
  assert allow(User{"bob"}, action: String, Org{"acme"}) iff action in ["read", "edit"];
}
`)
	bad := writePolicy(t, dir, "bad.polar", `test "members edit" {
  setup {
    has_role(User{"al"}, "member", Org{"acme"});
  }
  assert allow(User{"al"}, action: String, Org{"acme"}) iff action in ["read", "edit"];
}
`)
	broken := writePolicy(t, dir, "broken.polar", "actor User {\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string // substring
	}{{
		name:       "passing",
		args:       []string{"policy", "test", blocks, good},
		wantCode:   exitOK,
		wantStdout: "1 passed, 0 failed\n",
	}, {
		name:     "failing",
		args:     []string{"policy", "test", blocks, good, bad},
		wantCode: exitFailed,
		wantStdout: bad + `:5:3: test "members edit": assert allow(User{"al"}, action: String, Org{"acme"}) iff action in ["read", "edit"]: got [read], want [edit read]` + "\n" +
			"1 passed, 1 failed\n",
	}, {
		name:       "verbose",
		args:       []string{"policy", "test", "-v", blocks, good},
		wantCode:   exitOK,
		wantStdout: good + `:1:1: test "owners edit": ok (2 assertions)` + "\n1 passed, 0 failed\n",
	}, {
		name:       "does not compile",
		args:       []string{"policy", "test", broken},
		wantCode:   exitFailed,
		wantStderr: broken + ":",
	}, {
		name:       "no files",
		args:       []string{"policy", "test"},
		wantCode:   exitUsage,
		wantStderr: "usage: castellan policy test",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			code := run(t.Context(), e, tc.args)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			if tc.wantStdout != "" && stdout.String() != tc.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}
