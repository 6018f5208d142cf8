package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writePolicy writes a policy file into dir and returns its path.
func writePolicy(tb testing.TB, dir, name, src string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestPolicyValidate(t *testing.T) {
	dir := t.TempDir()
	blocks := writePolicy(t, dir, "blocks.polar", "actor User {}\nresource Org {\n  roles = [\"member\", \"unused\"];\n  permissions = [\"read\"];\n  \"read\" if \"member\";\n}\n")
	rules := writePolicy(t, dir, "rules.polar", "has_permission(u: User, \"read\", o: Org) if is_public(o);\n")
	bad := writePolicy(t, dir, "bad.polar", "resource Repo {\n  relations = { parent: Org };\n  permissions = [\"read\"];\n  \"read\" if \"membr\" on \"parent\";\n}\n")
	syntax := writePolicy(t, dir, "syntax.polar", "actor User {\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string // substrings, in order
	}{
		{
			name:       "valid files together",
			args:       []string{"policy", "validate", blocks, rules},
			wantCode:   exitOK,
			wantStdout: "2 files valid\n",
			wantStderr: []string{blocks + ":3:22: warning: role \"unused\" of Org is declared but never used\n\thint: "},
		},
		{
			name:     "check errors",
			args:     []string{"policy", "validate", blocks, bad},
			wantCode: exitFailed,
			wantStderr: []string{
				bad + ":4:13: \"membr\" is not a role, permission or relation of Org (the type of Repo.parent)\n\thint: did you mean `member`?",
				"1 error in 2 files\n",
			},
		},
		{
			name:       "syntax errors",
			args:       []string{"policy", "validate", syntax},
			wantCode:   exitFailed,
			wantStderr: []string{syntax + ":"},
		},
		{
			name:       "blocks of another file are unknown when validated alone",
			args:       []string{"policy", "validate", rules},
			wantCode:   exitOK,
			wantStdout: "1 file valid\n",
		},
		{
			name:       "no files",
			args:       []string{"policy", "validate"},
			wantCode:   exitUsage,
			wantStderr: []string{"usage: castellan policy validate FILE..."},
		},
		{
			name:       "the verb lives under policy only",
			args:       []string{"validate", blocks},
			wantCode:   exitUsage,
			wantStderr: []string{`unknown command "validate"`, `did you mean "policy validate"?`},
		},
		{
			name:       "missing file",
			args:       []string{"policy", "validate", filepath.Join(dir, "nope.polar")},
			wantCode:   exitUsage,
			wantStderr: []string{"reading policy:"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			if diff := cmp.Diff(tc.wantStdout, stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			rest := stderr
			for _, want := range tc.wantStderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stderr lacks %q:\n%s", want, stderr)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

func TestPolicyFmt(t *testing.T) {
	const messy = "actor   User{}\nresource Org{roles=[\"member\"];permissions=[\"read\"];\"read\" if \"member\";}\n"
	dir := t.TempDir()
	path := writePolicy(t, dir, "messy.polar", messy)

	code, canonical, stderr := runCLI(t, nil, "policy", "fmt", path)
	if code != exitOK {
		t.Fatalf("fmt exit %d: %s", code, stderr)
	}
	if canonical == messy || !strings.Contains(canonical, "resource Org {") {
		t.Fatalf("fmt did not print a canonical form:\n%s", canonical)
	}
	if got, _ := os.ReadFile(path); string(got) != messy {
		t.Fatal("fmt without -w changed the file")
	}

	// -w rewrites the file; printing the canonical form again is a no-op.
	if code, _, stderr := runCLI(t, nil, "policy", "fmt", "-w", path); code != exitOK {
		t.Fatalf("fmt -w exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(path)
	if diff := cmp.Diff(canonical, string(got)); diff != "" {
		t.Errorf("rewritten file (-want +got):\n%s", diff)
	}
	if _, again, _ := runCLI(t, nil, "policy", "fmt", path); again != canonical {
		t.Errorf("fmt is not idempotent:\n%s", again)
	}

	bad := writePolicy(t, dir, "bad.polar", "actor User {\n")
	if code, _, stderr := runCLI(t, nil, "policy", "fmt", bad); code != exitFailed || !strings.Contains(stderr, bad+":") {
		t.Errorf("fmt of a broken file: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := runCLI(t, nil, "policy", "fmt"); code != exitUsage {
		t.Errorf("fmt without a file: exit %d, want %d", code, exitUsage)
	}
}
