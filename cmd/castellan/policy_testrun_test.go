package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
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
		wantStdout: `FAIL  test "members edit" (` + bad + `:1:1): 0 of 1 assertion held` + "\n" +
			"  " + bad + `:5:3: assert allow(User{"al"}, action: String, Org{"acme"}) iff action in ["read", "edit"]: got [read], want [edit read]` + "\n" +
			"1 passed, 1 failed\n",
	}, {
		name:       "verbose",
		args:       []string{"policy", "test", "-v", blocks, good},
		wantCode:   exitOK,
		wantStdout: `ok    test "owners edit" (` + good + `:1:1): 2 assertions` + "\n1 passed, 0 failed\n",
	}, {
		name:       "does not compile",
		args:       []string{"policy", "test", broken},
		wantCode:   exitFailed,
		wantStderr: broken + ":",
	}, {
		name:       "bad format",
		args:       []string{"policy", "test", "--format", "tap", good},
		wantCode:   exitUsage,
		wantStderr: `--format "tap": want text, junit or json`,
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

// derivationPolicy has a test whose assert and assert_not both fail.
const derivationPolicy = `actor User {}
resource Org {
  roles = ["member", "owner"];
  permissions = ["read", "edit"];
  "member" if "owner";
  "read" if "member";
  "edit" if "owner";
}
test "members" {
  setup {
    has_role(User{"al"}, "member", Org{"acme"});
  }
  assert allow(User{"al"}, "edit", Org{"acme"});
  assert_not allow(User{"al"}, "read", Org{"acme"});
}
test "owners" {
  setup { has_role(User{"bob"}, "owner", Org{"acme"}); }
  assert allow(User{"bob"}, "edit", Org{"acme"});
}
`

func runPolicyTestCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	code := run(t.Context(), e, append([]string{"policy", "test"}, args...))
	return code, stdout.String(), stderr.String()
}

// TestPolicyTestDerivation: a failed assert shows where it failed, a
// failed assert_not why it held.
func TestPolicyTestDerivation(t *testing.T) {
	file := writePolicy(t, t.TempDir(), "org.polar", derivationPolicy)
	code, out, _ := runPolicyTestCLI(t, file)
	if code != exitFailed {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{
		`FAIL  test "members" (` + file + `:9:1): 0 of 2 assertions held`,
		"  " + file + `:13:3: assert allow(User{"al"}, "edit", Org{"acme"}): got no result, want a result` + "\n    where it failed:\n",
		`tried "edit" if "owner";  (` + file + `:7:3)`,
		`failed at has_role(User{"al"}, "owner", Org{"acme"})`,
		"  " + file + `:14:3: assert_not allow(User{"al"}, "read", Org{"acme"}): got allow(User{"al"}, "read", Org{"acme"}), want no result` + "\n    why it held:\n",
		`by "read" if "member";  (` + file + `:6:3)`,
		`has_role(User{"al"}, "member", Org{"acme"})  [setup fact]`,
		"1 passed, 1 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `test "owners"`) {
		t.Errorf("a passing test is listed without -v:\n%s", out)
	}
}

// TestPolicyTestJUnit parses the JUnit report back: one suite per file,
// one case per test, the failure with its derivation; a policy that does
// not compile is a "compile" error case.
func TestPolicyTestJUnit(t *testing.T) {
	dir := t.TempDir()
	file := writePolicy(t, dir, "org.polar", derivationPolicy)
	more := writePolicy(t, dir, "more.polar", "test \"readers\" {\n  setup { has_role(User{\"c\"}, \"member\", Org{\"x\"}); }\n  assert allow(User{\"c\"}, \"read\", Org{\"x\"});\n}\n")
	code, out, _ := runPolicyTestCLI(t, "--format", "junit", file, more)
	if code != exitFailed {
		t.Errorf("exit code %d, want 1", code)
	}
	type tcase struct {
		Name      string `xml:"name,attr"`
		Classname string `xml:"classname,attr"`
		Line      int    `xml:"line,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
			Type    string `xml:"type,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
		Error *struct {
			Message string `xml:"message,attr"`
		} `xml:"error"`
	}
	type suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name     string  `xml:"name,attr"`
			Tests    int     `xml:"tests,attr"`
			Failures int     `xml:"failures,attr"`
			Cases    []tcase `xml:"testcase"`
		} `xml:"testsuite"`
	}
	var got suites
	if !strings.HasPrefix(out, "<?xml") {
		t.Fatalf("not XML:\n%s", out)
	}
	if err := xml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("the JUnit report does not parse: %v\n%s", err, out)
	}
	if got.Tests != 3 || got.Failures != 1 || len(got.Suites) != 2 || got.Suites[0].Name != file || got.Suites[1].Name != more {
		t.Fatalf("report %+v", got)
	}
	s := got.Suites[0]
	if s.Tests != 2 || s.Failures != 1 || len(s.Cases) != 2 || s.Cases[0].Name != "members" || s.Cases[1].Name != "owners" ||
		s.Cases[0].Classname != file || s.Cases[0].Line != 9 || s.Cases[1].Failure != nil {
		t.Fatalf("suite %+v", s)
	}
	f := s.Cases[0].Failure
	if f == nil || f.Type != "assertion" || !strings.HasPrefix(f.Message, file+":13:3: assert allow(") ||
		!strings.Contains(f.Text, "where it failed:") || !strings.Contains(f.Text, "why it held:") {
		t.Errorf("failure %+v", f)
	}

	broken := writePolicy(t, dir, "broken.polar", "actor User {\n")
	code, out, _ = runPolicyTestCLI(t, "--format", "junit", broken)
	got = suites{}
	if err := xml.Unmarshal([]byte(out), &got); err != nil || code != exitFailed {
		t.Fatalf("report of a broken policy (exit %d): %v\n%s", code, err, out)
	}
	if got.Errors != 1 || len(got.Suites) != 1 || len(got.Suites[0].Cases) != 1 || got.Suites[0].Cases[0].Name != "compile" ||
		got.Suites[0].Cases[0].Error == nil || !strings.Contains(got.Suites[0].Cases[0].Error.Message, broken+":") {
		t.Errorf("report of a broken policy %+v", got)
	}

	// -o writes the file and says the summary.
	report := filepath.Join(dir, "report.xml")
	code, out, errOut := runPolicyTestCLI(t, "--format", "junit", "-o", report, file)
	b, err := os.ReadFile(report)
	if code != exitFailed || out != "" || errOut != "1 passed, 1 failed\n" || err != nil || !bytes.Contains(b, []byte(`<testcase name="members"`)) {
		t.Errorf("-o: exit %d, stdout %q, stderr %q, file %v %.80s", code, out, errOut, err, b)
	}
}

// TestPolicyTestJSON checks the JSON report.
func TestPolicyTestJSON(t *testing.T) {
	file := writePolicy(t, t.TempDir(), "org.polar", derivationPolicy)
	code, out, _ := runPolicyTestCLI(t, "--format", "json", file)
	if code != exitFailed {
		t.Errorf("exit code %d, want 1", code)
	}
	var got struct {
		Passed, Failed int
		Tests          []struct {
			Name             string
			File             string
			Line, Column     int
			OK               bool
			Assertions, Held int
			Failures         []struct {
				Assertion, File, Message string
				Line, Column             int
				Derivation               *struct {
					Goal  string
					Holds bool
					Tried []any
					Rule  *struct{ Source string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Passed != 1 || got.Failed != 1 || len(got.Tests) != 2 {
		t.Fatalf("report %+v", got)
	}
	m := got.Tests[0]
	if m.Name != "members" || m.OK || m.Assertions != 2 || m.Held != 0 || m.File != file || m.Line != 9 || len(m.Failures) != 2 {
		t.Fatalf("test %+v", m)
	}
	deny, held := m.Failures[0], m.Failures[1]
	if deny.Line != 13 || deny.Derivation == nil || deny.Derivation.Holds || len(deny.Derivation.Tried) == 0 {
		t.Errorf("failed assert %+v", deny)
	}
	if held.Line != 14 || held.Derivation == nil || !held.Derivation.Holds || held.Derivation.Rule == nil {
		t.Errorf("failed assert_not %+v", held)
	}
	if !got.Tests[1].OK || got.Tests[1].Failures != nil {
		t.Errorf("passing test %+v", got.Tests[1])
	}
}

// TestMatrixExample runs the access matrix of docs/polar.md: it passes,
// and a changed cell fails with its row.
func TestMatrixExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/polar.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- matrix-example -->\n```polar\n")
	src, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/polar.md has no <!-- matrix-example --> polar block")
	}
	dir := t.TempDir()
	code, out, errOut := runPolicyTestCLI(t, "-v", writePolicy(t, dir, "matrix.polar", src))
	if code != exitOK || !strings.Contains(out, `ok    test "access matrix"`) || !strings.Contains(out, "6 assertions") {
		t.Fatalf("the documented matrix: exit %d\n%s%s", code, out, errOut)
	}
	changed := strings.Replace(src, `Repository{"anvil"}) iff action in ["read"];`, `Repository{"anvil"}) iff action in ["read", "push"];`, 1)
	if changed == src {
		t.Fatal("the matrix example changed: update this test")
	}
	code, out, _ = runPolicyTestCLI(t, writePolicy(t, dir, "changed.polar", changed))
	if code != exitFailed || !strings.Contains(out, `assert allow(User{"bob"}, action: String, Repository{"anvil"}) iff action in ["read", "push"]: got [read], want [push read]`) {
		t.Errorf("a changed cell: exit %d\n%s", code, out)
	}
}
