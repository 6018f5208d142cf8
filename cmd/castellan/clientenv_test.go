package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// runCLI runs castellan with args and the given environment and returns
// its exit code and output.
func runCLI(tb testing.TB, environ map[string]string, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return environ[k] },
	}
	code = run(tb.Context(), e, args)
	return code, out.String(), errb.String()
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		in        string
		wildcards bool
		want      castellan.Value
		wantErr   string
	}{
		{in: "User:alice", want: castellan.Entity("User", "alice")},
		{in: "owner", want: castellan.String("owner")},
		{in: "String:owner", want: castellan.String("owner")},
		{in: "Integer:-3", want: castellan.Integer(-3)},
		{in: "Boolean:true", want: castellan.Bool(true)},
		{in: "repo:read", want: castellan.String("repo:read")},
		{in: "Repo:a:b", want: castellan.Entity("Repo", "a:b")},
		{in: "Ns::Type:1", want: castellan.Entity("Ns::Type", "1")},
		{in: "_", wildcards: true, want: castellan.Any()},
		{in: "User:_", wildcards: true, want: castellan.AnyOf("User")},
		{in: "_", wantErr: "wildcard"},
		{in: "User:_", wantErr: "wildcard"},
		{in: "User:", wantErr: "empty id"},
		{in: "Integer:x", wantErr: "not a 64-bit integer"},
		{in: "Boolean:yes", wantErr: "true or false"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseValue(tc.in, tc.wildcards)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "has_role User:bob owner Org:acme", want: []string{"has_role", "User:bob", "owner", "Org:acme"}},
		{in: "  p\tUser:a  ", want: []string{"p", "User:a"}},
		{in: `has_role User:"bob smith" "team lead" Org:acme`, want: []string{"has_role", "User:bob smith", "team lead", "Org:acme"}},
		{in: `p "say \"hi\"" ""`, want: []string{"p", `say "hi"`, ""}},
		{in: `p "open`, wantErr: true},
	}
	for _, tc := range tests {
		got, err := splitWords(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("splitWords(%q): err %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("splitWords(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseArgsAcceptsFlagsAnywhere(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantPos []string
		wantCtx int
		wantURL string
	}{
		{"flags last", []string{"User:bob", "read", "Repo:a", "-c", "p Repo:a", "--url", "http://x"}, []string{"User:bob", "read", "Repo:a"}, 1, "http://x"},
		{"flags first", []string{"--context", "p Repo:a", "-c=q Repo:b", "User:bob", "read", "Repo:a"}, []string{"User:bob", "read", "Repo:a"}, 2, ""},
		{"flags between", []string{"User:bob", "-c", "p Repo:a", "read", "Repo:a"}, []string{"User:bob", "read", "Repo:a"}, 1, ""},
		{"double dash", []string{"User:bob", "--", "-c", "x"}, []string{"User:bob", "-c", "x"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
			fs, r := newRemoteFlags(e, "authorize", "authorize", "")
			var cf contextFlag
			cf.register(fs)
			pos, err := parseArgs(fs, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantPos, pos); diff != "" {
				t.Errorf("positional (-want +got):\n%s", diff)
			}
			if len(cf.facts) != tc.wantCtx {
				t.Errorf("%d context facts, want %d", len(cf.facts), tc.wantCtx)
			}
			if r.url != tc.wantURL {
				t.Errorf("url = %q, want %q", r.url, tc.wantURL)
			}
		})
	}
}

func TestServerFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
		args    []string
		wantURL string
		wantKey string
	}{
		{"default", nil, nil, defaultURL, ""},
		{"oso variables", map[string]string{"OSO_URL": "http://oso:1", "OSO_AUTH": "k-oso"}, nil, "http://oso:1", "k-oso"},
		{"castellan variables win", map[string]string{"OSO_URL": "http://oso:1", "OSO_AUTH": "k-oso", "CASTELLAN_URL": "http://c:2", "CASTELLAN_API_KEY": "k-c"}, nil, "http://c:2", "k-c"},
		{"flags win", map[string]string{"CASTELLAN_URL": "http://c:2", "CASTELLAN_API_KEY": "k-c"}, []string{"--url", "http://f:3", "--api-key", "k-f"}, "http://f:3", "k-f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{stderr: &bytes.Buffer{}, getenv: func(k string) string { return tc.environ[k] }}
			fs, r := newRemoteFlags(e, "get", "get", "")
			if _, err := parseArgs(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			if got := r.baseURL(); got != tc.wantURL {
				t.Errorf("url = %q, want %q", got, tc.wantURL)
			}
			if got := r.key(); got != tc.wantKey {
				t.Errorf("key = %q, want %q", got, tc.wantKey)
			}
		})
	}
}

// TestUsageErrors checks that bad arguments exit 2 with a helpful message
// and send nothing.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tell", "has_role"}, "tell takes at least 2 arguments"},
		{[]string{"tell", "has_role", "User:_", "owner", "Org:a"}, "wildcard"},
		{[]string{"tell", "has role", "User:a"}, "not a predicate name"},
		{[]string{"tell", "_", "User:a"}, "cannot be _"},
		{[]string{"authorize", "User:bob", "read"}, "authorize takes 3 arguments, got 2"},
		{[]string{"authorize", "User:bob", "read", "Repo:a", "-c", "has_relation Repo:_ parent Org:a"}, "context fact"},
		{[]string{"authorize", "User:bob", "read", "Repo:a", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"list", "User:bob", "read", "repository"}, "not a type name"},
		{[]string{"inspect", "_"}, "wildcard"},
		{[]string{"query", "_", "User:a"}, "cannot be _"},
		{[]string{"clear"}, "--confirm"},
		{[]string{"keys", "create"}, "--scope is required"},
		{[]string{"keys", "create", "--scope", "root"}, `scope "root"`},
		{[]string{"keys", "lst"}, `did you mean "list"`},
		{[]string{"policy", "rollback", "latest"}, "not a version number"},
		{[]string{"policy", "upload", "does-not-exist.polar"}, "no such file"},
		{[]string{"get", "has_role", "--url", "ftp://x"}, "not an http"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			// A URL nothing listens on: a usage error must not get that far.
			code, _, stderr := runCLI(t, map[string]string{"CASTELLAN_URL": "http://127.0.0.1:1"}, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, stderr)
			}
			if strings.Contains(stderr, "cannot reach") {
				t.Errorf("a usage error reached the network:\n%s", stderr)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, verb := range []string{"tell", "delete", "get", "inspect", "authorize", "list", "actions", "query", "clear", "healthcheck"} {
		code, _, stderr := runCLI(t, nil, verb, "-h")
		if code != exitOK || !strings.Contains(stderr, "usage: castellan "+verb) {
			t.Errorf("%s -h: exit %d, stderr:\n%s", verb, code, stderr)
		}
	}
}

func TestUnreachableServer(t *testing.T) {
	ts := httptest.NewServer(nil)
	addr := ts.URL
	ts.Close()
	code, _, stderr := runCLI(t, map[string]string{"CASTELLAN_URL": addr}, "authorize", "User:bob", "read", "Repository:anvil")
	if code != exitError {
		t.Errorf("exit %d, want %d (an error, not a denial)", code, exitError)
	}
	if want := "cannot reach castellan at " + addr + ": "; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
}

// TestHelpVerb checks that `castellan help VERB` prints exactly what
// `castellan VERB -h` prints, for every verb.
func TestHelpVerb(t *testing.T) {
	for _, name := range commandNames() {
		if name == "version" {
			continue // takes no flags: version -h prints the version
		}
		code, stdout, stderr := runCLI(t, nil, "help", name)
		wantCode, wantStdout, wantStderr := runCLI(t, nil, name, "-h")
		if code != wantCode || stdout != wantStdout || stderr != wantStderr {
			t.Errorf("help %s: exit %d, stdout %q, stderr:\n%s\nwant what %s -h gives: exit %d, stdout %q, stderr:\n%s",
				name, code, stdout, stderr, name, wantCode, wantStdout, wantStderr)
		}
		if !strings.Contains(stderr+stdout, "usage: castellan "+name) {
			t.Errorf("help %s does not print the usage:\n%s", name, stderr)
		}
	}
	if code, _, stderr := runCLI(t, nil, "help", "authorise"); code != exitUsage || !strings.Contains(stderr, `did you mean "authorize"?`) {
		t.Errorf("help of an unknown verb: exit %d, stderr:\n%s", code, stderr)
	}
}
