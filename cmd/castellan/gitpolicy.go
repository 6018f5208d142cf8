package main

import (
	"context"
	"flag"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/gitpolicy"
	"github.com/castellan-authz/castellan/policy"
)

// gitPolicyFlags defines the flags of the policy.git section of the
// configuration file (`policy: {git: {url: ..., branch: ...}}` is
// --policy-git-url, --policy-git-branch, ...).
func gitPolicyFlags(fs *flag.FlagSet, c *gitpolicy.Config) {
	fs.StringVar(&c.URL, "policy-git-url", c.URL, "take the policy from this git repository `URL` (path, file://, git://, ssh://, user@host:path, http(s)://) and follow its branch")
	fs.StringVar(&c.Branch, "policy-git-branch", c.Branch, "the `branch` --policy-git-url follows")
	fs.StringVar(&c.Path, "policy-git-path", c.Path, "the directory (or one .polar file) of the policy in the repository (default: every .polar file)")
	fs.DurationVar(&c.PollInterval, "policy-git-poll-interval", c.PollInterval, "how often the repository is polled for a new commit")
	fs.StringVar(&c.SSHKey, "policy-git-ssh-key", c.SSHKey, "private key `file` for ssh URLs (a deploy key)")
	fs.StringVar(&c.SSHKeyPassphraseEnv, "policy-git-ssh-key-passphrase-env", c.SSHKeyPassphraseEnv, "name of the environment `variable` holding the passphrase of --policy-git-ssh-key, if it has one")
	fs.StringVar(&c.SSHUser, "policy-git-ssh-user", c.SSHUser, "ssh user (default: the URL's, else git)")
	fs.StringVar(&c.KnownHosts, "policy-git-known-hosts", c.KnownHosts, "known_hosts `file` holding the ssh server's host key (required for ssh URLs)")
	fs.StringVar(&c.Username, "policy-git-username", c.Username, "user name sent with the token to http(s) URLs (default: git)")
	fs.StringVar(&c.TokenEnv, "policy-git-token-env", c.TokenEnv, "name of the environment `variable` holding the http(s) token (never logged)")
	fs.StringVar(&c.TokenFile, "policy-git-token-file", c.TokenFile, "`file` holding the http(s) token (read at every fetch; never logged)")
}

// defaultGitPolicyConfig is the policy.git section when nothing is set.
func defaultGitPolicyConfig() gitpolicy.Config {
	return gitpolicy.Config{Branch: gitpolicy.DefaultBranch, PollInterval: gitpolicy.DefaultPollInterval}
}

// startGitPolicy checks the policy.git settings and polls the repository
// once: a refused commit or an unreachable repository is logged and the
// stored live policy (if any) stays; the returned source polls on with
// Run. A bad setting is an error.
func startGitPolicy(ctx context.Context, e *env, c gitpolicy.Config, force bool, m *policy.Manager, log zerolog.Logger) (*gitpolicy.Source, error) {
	c.Force, c.Getenv = force, e.getenv
	s, err := gitpolicy.New(c, m, log)
	if err != nil {
		return nil, usageError("%v", err)
	}
	log.Info().Str("repository", s.Redacted()).Str("branch", c.Branch).Str("path", c.Path).Dur("poll_interval", c.PollInterval).
		Msg("following the policy in git")
	s.PollAndLog(ctx)
	return s, nil
}

// validateGitPolicy checks that the git source and the other policy
// settings do not conflict.
func validateGitPolicy(c serveConfig) error {
	if c.Git.URL == "" {
		return nil
	}
	if len(c.Policies) > 0 {
		return usageError("give --policy files or --policy-git-url (policy.git.url), not both")
	}
	if c.Git.PollInterval <= 0 {
		return usageError("--policy-git-poll-interval must be positive")
	}
	return nil
}
