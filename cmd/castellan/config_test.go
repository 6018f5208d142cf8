package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/identity"
)

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "castellan.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFile(t *testing.T) {
	file := writeConfig(t, `
addr: ":7000"
max_context_facts: 9
query_timeout: 3s
trusted_proxies: [10.0.0.0/8, 192.0.2.1]
policy: [a.polar]
dev: false
audit:
  log: decisions.log
  context_facts: hashed
metrics:
  auth: true
identity:
  issuers:
    - issuer: https://idp.example
      jwks_url: https://idp.example/jwks
      audience: castellan
      algorithms: [ES256]
      use: caller
      actor_type: Agent
      claims: [team]
      clock_skew: 5s
`)
	runParseServe(t, []parseServeCase{
		{name: "the file over the defaults", args: []string{"--config", file},
			check: func(c serveConfig) any {
				return []any{c.Addr, c.Server.MaxContextFacts, c.Server.QueryTimeout, c.Server.TrustedProxies, c.Policies, c.Dev, c.Server.MaxPageSize}
			},
			want: []any{":7000", 9, 3 * time.Second, []string{"10.0.0.0/8", "192.0.2.1"}, []string{"a.polar"}, false, 100_000}},
		{name: "the environment over the file", environ: map[string]string{"CASTELLAN_CONFIG": file, "CASTELLAN_MAX_CONTEXT_FACTS": "4", "CASTELLAN_TRUSTED_PROXIES": "127.0.0.1"},
			check: func(c serveConfig) any { return []any{c.Addr, c.Server.MaxContextFacts, c.Server.TrustedProxies} },
			want:  []any{":7000", 4, []string{"127.0.0.1"}}},
		{name: "flags over the environment and the file", environ: map[string]string{"CASTELLAN_MAX_CONTEXT_FACTS": "4"},
			args:  []string{"--max-context-facts", "2", "--config", file, "--dev", "--policy", "b.polar", "c.polar"},
			check: func(c serveConfig) any { return []any{c.Server.MaxContextFacts, c.Policies, c.Dev} },
			want:  []any{2, []string{"b.polar", "c.polar"}, true}},
		{name: "the policy.git section", args: []string{"--config", writeConfig(t, "policy:\n  git:\n    url: git@git.example:authz.git\n    branch: prod\n    poll_interval: 1m\n    ssh_key: /etc/castellan/deploy_key\n    known_hosts: /etc/castellan/known_hosts\n")},
			check: func(c serveConfig) any {
				return []any{c.Git.URL, c.Git.Branch, c.Git.PollInterval, c.Git.SSHKey, c.Git.KnownHosts, c.Policies}
			},
			want: []any{"git@git.example:authz.git", "prod", time.Minute, "/etc/castellan/deploy_key", "/etc/castellan/known_hosts", []string(nil)}},
		{name: "sections group keys", args: []string{"--config", file},
			check: func(c serveConfig) any { return []any{c.Audit.Log, c.Audit.ContextFacts, c.Server.MetricsAuth} },
			want:  []any{"decisions.log", "hashed", true}},
		{name: "the identity section", args: []string{"--config", file},
			check: func(c serveConfig) any { return c.Server.Identity },
			want: identity.Config{Issuers: []identity.Issuer{{Issuer: "https://idp.example", JWKSURL: "https://idp.example/jwks", Audience: "castellan",
				Algorithms: []string{"ES256"}, Use: identity.UseCaller, ActorType: "Agent", Claims: []string{"team"}, ClockSkew: 5 * time.Second}}}},
	})
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name, src, wantErr string
	}{
		{"unknown key", "addr: \":1\"\nmax_body_byte: 5\n", `castellan.yaml:2: unknown key "max_body_byte"`},
		{"a flag's spelling is not a key", "max-body-bytes: 5\n", `castellan.yaml:1: unknown key "max-body-bytes"`},
		{"config is not a key", "config: other.yaml\n", `unknown key "config"`},
		{"bad value", "\n\nquery_timeout: soon\n", `castellan.yaml:3: query_timeout: "soon"`},
		{"list for a plain key", "addr: [a, b]\n", "castellan.yaml:1: addr takes one value"},
		{"not a mapping", "- a\n", "must be a mapping"},
		{"unknown key in a section", "audit:\n  log: x\n  lgo_keep: 3\n", `castellan.yaml:3: unknown key "audit.lgo_keep"`},
		{"unknown key in policy.git", "policy:\n  git:\n    url: x\n    token: s3cret\n", `castellan.yaml:4: unknown key "policy.git.token"`},
		{"unknown identity key", "identity:\n  issuer: x\n", `castellan.yaml:2: unknown key "issuer" in identity`},
		{"unknown issuer key", "identity:\n  issuers:\n    - issuer: x\n      audiance: y\n", `castellan.yaml:4: unknown key "audiance" in identity.issuers[0]`},
		{"bad duration", "identity:\n  issuers:\n    - clock_skew: later\n", "castellan.yaml:3: identity.issuers[0]"},
		{"HMAC refused", "identity:\n  issuers:\n    - {issuer: https://i, jwks_url: https://i/jwks, audience: c, algorithms: [HS256]}\n", `algorithm "HS256" is not allowed`},
		{"no such file", "", "--config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "missing.yaml")
			if tc.src != "" {
				path = writeConfig(t, tc.src)
			}
			e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
			_, err := parseServe(e, []string{"--config", path})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errUsage) {
				t.Fatalf("error %v; want a usage error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestConfigFileDocumented loads the example file of docs/operations.md
// and checks that it names every serve flag.
func TestConfigFileDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- config-example -->\n```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/operations.md has no <!-- config-example --> yaml block")
	}
	path := writeConfig(t, example)
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	if _, err := parseServe(e, []string{"--config", path}); err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c serveConfig
	serveFlags(fs, &c)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(example, "\n"+configKey(f.Name)+":") && !strings.HasPrefix(example, configKey(f.Name)+":") {
			t.Errorf("the documented example lacks the key %s (--%s)", configKey(f.Name), f.Name)
		}
	})
	for _, k := range issuerKeys {
		if !strings.Contains(example, " "+k+":") {
			t.Errorf("the documented example lacks the issuer key %s", k)
		}
	}
	for _, k := range append(identityKeys, trustDomainKeys...) {
		if !strings.Contains(example, k+":") {
			t.Errorf("the documented example lacks the identity key %s", k)
		}
	}
}
