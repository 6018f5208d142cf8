// Package gitpolicy takes the policy of a server from a git repository:
// it polls a branch, and each new commit's .polar files go through
// policy.Manager.Load (the same checks and tests as an upload); the stored
// version records the commit. A commit whose policy does not compile or
// whose tests fail is logged with every file:line:col and the last good
// policy stays live. It uses go-git: no git binary is needed.
//
// Repositories: a local path or file:// URL (a bare repository or a work
// tree, read in place), git://, ssh:// (or user@host:path) with a private
// key and a known_hosts file, and http(s):// with an optional token.
package gitpolicy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/castellan-authz/castellan/internal/tick"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
)

// Config says where the policy is and how to reach it.
type Config struct {
	// URL is the repository: a path, file://, git://, ssh://,
	// user@host:path, http:// or https://.
	URL string
	// Branch is the branch followed (default "main").
	Branch string
	// Path is the directory (or one .polar file) of the policy inside the
	// repository; every .polar file under the directory, in path order,
	// makes the policy. Default: the whole repository.
	Path string
	// PollInterval is how often Run looks for a new commit (default 30s).
	PollInterval time.Duration
	// Force loads a commit whose policy the guard would refuse (no allow
	// rule, or every stored fact orphaned), as serve --policy-force.
	Force bool

	// SSHKey is the private key file for ssh URLs; SSHKeyPassphraseEnv
	// names the environment variable holding its passphrase, if it has
	// one. SSHUser defaults to the URL's user, else "git".
	SSHKey, SSHKeyPassphraseEnv, SSHUser string
	// KnownHosts is the known_hosts file that holds the ssh server's host
	// key; required for ssh URLs.
	KnownHosts string

	// Username and the token (from TokenEnv, the name of an environment
	// variable, or TokenFile) authenticate http(s) URLs by basic auth;
	// Username defaults to "git". The token is read at every fetch (so a
	// rotated token is picked up) and never logged.
	Username, TokenEnv, TokenFile string

	// Getenv reads the environment variables named above (default
	// os.Getenv).
	Getenv func(string) string
}

// DefaultBranch and DefaultPollInterval are the defaults of Config.
const (
	DefaultBranch       = "main"
	DefaultPollInterval = 30 * time.Second
)

// Source polls one repository and loads its policy into a manager. Poll
// and Run must not be called concurrently.
type Source struct {
	cfg      Config
	ep       *transport.Endpoint
	local    string // the repository's directory for file URLs, else ""
	ssh      *gitssh.PublicKeys
	policies *policy.Manager
	log      zerolog.Logger
	getenv   func(string) string

	seen    string // the last commit handled (loaded, unchanged or refused)
	lastErr string // the last poll error logged, to log each error once
}

// New checks cfg and returns a source loading into policies. Errors name
// the setting at fault (a missing known_hosts file, an unreadable key).
func New(cfg Config, policies *policy.Manager, log zerolog.Logger) (*Source, error) {
	if cfg.URL == "" {
		return nil, errors.New("policy.git.url is required")
	}
	if cfg.Branch == "" {
		cfg.Branch = DefaultBranch
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.PollInterval < 0 {
		return nil, errors.New("policy.git.poll_interval must be positive")
	}
	cfg.Path = strings.Trim(path.Clean("/"+cfg.Path), "/")
	ep, err := transport.NewEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("policy.git.url: %w", err)
	}
	s := &Source{cfg: cfg, ep: ep, policies: policies, log: log, getenv: cfg.Getenv}
	if s.getenv == nil {
		s.getenv = os.Getenv
	}
	switch ep.Protocol {
	case "file":
		s.local = ep.Path
	case "ssh":
		if err := s.setupSSH(); err != nil {
			return nil, err
		}
	case "http", "https":
		if cfg.TokenEnv != "" && cfg.TokenFile != "" {
			return nil, errors.New("policy.git: give token_env or token_file, not both")
		}
	case "git":
	default:
		return nil, fmt.Errorf("policy.git.url: unsupported protocol %q", ep.Protocol)
	}
	if (cfg.TokenEnv != "" || cfg.TokenFile != "") && ep.Protocol != "http" && ep.Protocol != "https" {
		return nil, errors.New("policy.git: a token authenticates http(s) URLs only")
	}
	return s, nil
}

// setupSSH reads the private key and the known_hosts file.
func (s *Source) setupSSH() error {
	if s.cfg.KnownHosts == "" {
		return fmt.Errorf("policy.git.known_hosts is required for ssh URLs: a file holding the server's host key (ssh-keyscan -p %d %s > known_hosts, then check the fingerprint)", s.port(), s.ep.Host)
	}
	if s.cfg.SSHKey == "" {
		return errors.New("policy.git.ssh_key is required for ssh URLs: the private key file of a deploy key")
	}
	user := s.cfg.SSHUser
	if user == "" {
		user = s.ep.User
	}
	if user == "" {
		user = "git"
	}
	passphrase := ""
	if s.cfg.SSHKeyPassphraseEnv != "" {
		if passphrase = s.getenv(s.cfg.SSHKeyPassphraseEnv); passphrase == "" {
			return fmt.Errorf("policy.git.ssh_key_passphrase_env: the environment variable %s is empty", s.cfg.SSHKeyPassphraseEnv)
		}
	}
	auth, err := gitssh.NewPublicKeysFromFile(user, s.cfg.SSHKey, passphrase)
	if err != nil {
		return fmt.Errorf("policy.git.ssh_key %s: %w", s.cfg.SSHKey, err)
	}
	if _, err := os.Stat(s.cfg.KnownHosts); err != nil {
		return fmt.Errorf("policy.git.known_hosts: %w", err)
	}
	db, err := gitssh.NewKnownHostsDb(s.cfg.KnownHosts)
	if err != nil {
		return fmt.Errorf("policy.git.known_hosts: %w", err)
	}
	hostPort := net.JoinHostPort(s.ep.Host, strconv.Itoa(s.port()))
	auth.HostKeyCallback = hostKeyCheck(db.HostKeyCallback(), s.cfg.KnownHosts, s.ep.Host, s.port())
	auth.HostKeyAlgorithms = db.HostKeyAlgorithms(hostPort)
	s.ssh = auth
	return nil
}

func (s *Source) port() int {
	if s.ep.Port != 0 {
		return s.ep.Port
	}
	return 22
}

// HostKeyError is the error of an ssh server whose host key is not the
// one known_hosts holds for it (Mismatch), or that known_hosts does not
// know.
type HostKeyError struct {
	Host        string // host:port
	Mismatch    bool
	Fingerprint string // of the key the server presented
	KeyType     string
	KnownHosts  string // the file
	Lines       []int  // the lines holding other keys for the host (Mismatch)
	keyscan     string
}

func (e *HostKeyError) Error() string {
	if !e.Mismatch {
		return fmt.Sprintf("ssh host %s is not in the known_hosts file %s (it presented the %s key %s): add it with `%s >> %s` after checking the fingerprint",
			e.Host, e.KnownHosts, e.KeyType, e.Fingerprint, e.keyscan, e.KnownHosts)
	}
	lines := make([]string, len(e.Lines))
	for i, l := range e.Lines {
		lines[i] = e.KnownHosts + ":" + strconv.Itoa(l)
	}
	return fmt.Sprintf("ssh host key mismatch for %s: the server presented the %s key %s, but %s holds a different key for it; "+
		"if the server's key was changed on purpose, replace that line with the output of `%s` (after checking the fingerprint), "+
		"otherwise someone may be intercepting the connection", e.Host, e.KeyType, e.Fingerprint, strings.Join(lines, ", "), e.keyscan)
}

// hostKeyCheck wraps a known_hosts callback so that its errors say what
// happened and how to fix it.
func hostKeyCheck(cb ssh.HostKeyCallback, file, host string, port int) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if err == nil || !errors.As(err, &ke) {
			return err
		}
		keyscan := "ssh-keyscan " + host
		if port != 22 {
			keyscan = fmt.Sprintf("ssh-keyscan -p %d %s", port, host)
		}
		he := &HostKeyError{Host: hostname, Mismatch: len(ke.Want) > 0, Fingerprint: ssh.FingerprintSHA256(key),
			KeyType: key.Type(), KnownHosts: file, keyscan: keyscan}
		for _, w := range ke.Want {
			he.Lines = append(he.Lines, w.Line)
		}
		return he
	}
}

// auth returns the authentication of a fetch.
func (s *Source) auth() (transport.AuthMethod, error) {
	switch {
	case s.ssh != nil:
		return s.ssh, nil
	case s.cfg.TokenEnv != "":
		tok := s.getenv(s.cfg.TokenEnv)
		if tok == "" {
			return nil, fmt.Errorf("policy.git.token_env: the environment variable %s is empty", s.cfg.TokenEnv)
		}
		return s.basic(tok), nil
	case s.cfg.TokenFile != "":
		b, err := os.ReadFile(s.cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("policy.git.token_file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return nil, fmt.Errorf("policy.git.token_file: %s is empty", s.cfg.TokenFile)
		}
		return s.basic(tok), nil
	}
	return nil, nil
}

func (s *Source) basic(token string) transport.AuthMethod {
	user := s.cfg.Username
	if user == "" {
		user = "git"
	}
	return &githttp.BasicAuth{Username: user, Password: token}
}

// Redacted returns the repository URL without any password it holds, for
// logs.
func (s *Source) Redacted() string {
	ep := *s.ep
	ep.Password = ""
	return ep.String()
}

// Result is what one Poll did.
type Result struct {
	// Commit is the branch's commit.
	Commit string
	// Seen is true when the commit had been handled by an earlier poll:
	// nothing was done.
	Seen bool
	// Version is the live version after a load, Changed whether the load
	// made a new version (false: the commit's policy was the live one).
	Version int64
	Changed bool
	// Warning is the guard's warning of a forced load.
	Warning string
}

// CommitError is the error of a commit whose policy was refused: its files
// do not compile, its tests fail, the guard refused it, or it has no
// .polar files. The last good policy stays live; the commit is not tried
// again.
type CommitError struct {
	Commit string
	Err    error
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("commit %s: %v", e.Commit, e.Err)
}

func (e *CommitError) Unwrap() error { return e.Err }

// errNoFiles is the error of a commit with no policy file under Path.
var errNoFiles = errors.New("no .polar files")

// Poll looks at the branch once and loads its commit when it is new. A
// commit whose policy is refused returns a *CommitError (and is not tried
// again); a repository that cannot be read another error (and is tried
// again at the next poll).
func (s *Source) Poll(ctx context.Context) (Result, error) {
	head, read, err := s.head(ctx)
	if err != nil {
		return Result{}, err
	}
	if head.String() == s.seen {
		return Result{Commit: s.seen, Seen: true}, nil
	}
	// Another replica on the same database may have loaded the commit:
	// follow it rather than saving it again.
	if live, err := s.policies.LiveCommit(ctx); err == nil && live == head.String() {
		if _, err := s.policies.Sync(ctx); err != nil {
			return Result{Commit: live}, err
		}
		s.seen = live
		return Result{Commit: live, Version: s.policies.Live().Version()}, nil
	}
	commit, err := read()
	if err != nil {
		return Result{Commit: head.String()}, err
	}
	hash := commit.Hash.String()
	files, err := s.files(commit)
	if err != nil {
		if errors.Is(err, errNoFiles) {
			s.seen = hash
			return Result{Commit: hash}, &CommitError{Commit: hash, Err: err}
		}
		return Result{Commit: hash}, err
	}
	opts := []policy.LoadOption{policy.From(store.PolicySourceGit, hash)}
	if s.cfg.Force {
		opts = append(opts, policy.Force())
	}
	res, err := s.policies.Load(ctx, files, "git:"+commit.Author.Email, opts...)
	if err != nil {
		if refused(err) {
			s.seen = hash
			return Result{Commit: hash}, &CommitError{Commit: hash, Err: err}
		}
		return Result{Commit: hash}, err
	}
	s.seen = hash
	return Result{Commit: hash, Version: res.Version, Changed: res.Changed, Warning: res.Warning}, nil
}

// refused reports whether err is the policy's fault, not the store's.
func refused(err error) bool {
	if _, ok := errors.AsType[ast.ErrorList](err); ok {
		return true
	}
	if _, ok := errors.AsType[*policy.TestsFailedError](err); ok {
		return true
	}
	return errors.Is(err, policy.ErrNeedsForce) || errors.Is(err, policy.ErrInvalidFiles)
}

// head returns the branch's commit hash and a function that reads the
// commit: a local repository is read in place; a remote one is listed
// and, when the commit is read, fetched (one commit deep) into memory.
func (s *Source) head(ctx context.Context) (plumbing.Hash, func() (*object.Commit, error), error) {
	ref := plumbing.NewBranchReferenceName(s.cfg.Branch)
	if s.local != "" {
		repo, err := git.PlainOpen(s.local)
		if err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("opening the repository %s: %w", s.local, err)
		}
		r, err := repo.Reference(ref, true)
		if err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("branch %s of %s: %w", s.cfg.Branch, s.local, err)
		}
		return r.Hash(), func() (*object.Commit, error) { return repo.CommitObject(r.Hash()) }, nil
	}
	auth, err := s.auth()
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	remote := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{s.cfg.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("listing %s: %w", s.Redacted(), err)
	}
	i := slices.IndexFunc(refs, func(r *plumbing.Reference) bool { return r.Name() == ref })
	if i < 0 {
		return plumbing.ZeroHash, nil, fmt.Errorf("%s has no branch %s", s.Redacted(), s.cfg.Branch)
	}
	fetch := func() (*object.Commit, error) {
		repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
			URL: s.cfg.URL, Auth: auth, ReferenceName: ref, SingleBranch: true, Depth: 1, Tags: git.NoTags,
		})
		if err != nil {
			return nil, fmt.Errorf("fetching %s of %s: %w", s.cfg.Branch, s.Redacted(), err)
		}
		head, err := repo.Reference(ref, true)
		if err != nil {
			return nil, fmt.Errorf("branch %s of %s: %w", s.cfg.Branch, s.Redacted(), err)
		}
		// The branch may have moved since it was listed: the fetched
		// commit is the one loaded.
		return repo.CommitObject(head.Hash())
	}
	return refs[i].Hash(), fetch, nil
}

// files returns the policy files of a commit: the .polar files under
// Path (or Path itself), named by their path in the repository, in order.
func (s *Source) files(c *object.Commit) ([]policy.File, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", c.Hash, err)
	}
	prefix := ""
	if s.cfg.Path != "" {
		if f, err := tree.File(s.cfg.Path); err == nil {
			src, err := f.Contents()
			if err != nil {
				return nil, fmt.Errorf("reading %s at %s: %w", s.cfg.Path, c.Hash, err)
			}
			return []policy.File{{Filename: s.cfg.Path, Src: src}}, nil
		}
		sub, err := tree.Tree(s.cfg.Path)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return nil, fmt.Errorf("%w: %s is not in the repository", errNoFiles, s.cfg.Path)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", s.cfg.Path, c.Hash, err)
		}
		tree, prefix = sub, s.cfg.Path+"/"
	}
	var out []policy.File
	iter := tree.Files()
	defer iter.Close()
	for {
		f, err := iter.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading commit %s: %w", c.Hash, err)
		}
		if !strings.HasSuffix(f.Name, ".polar") || !f.Mode.IsFile() {
			continue
		}
		src, err := f.Contents()
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", f.Name, c.Hash, err)
		}
		out = append(out, policy.File{Filename: prefix + f.Name, Src: src})
	}
	if len(out) == 0 {
		where := "in the repository"
		if s.cfg.Path != "" {
			where = "under " + s.cfg.Path
		}
		return nil, fmt.Errorf("%w %s", errNoFiles, where)
	}
	slices.SortFunc(out, func(a, b policy.File) int { return strings.Compare(a.Filename, b.Filename) })
	return out, nil
}

// Run polls every PollInterval until ctx is done (call PollAndLog first
// for a poll at start). A refused
// commit is logged at error level with every problem on its own line
// (file:line:col); an unreachable repository is logged once per distinct
// error and tried again at the next poll.
func (s *Source) Run(ctx context.Context) {
	tick.Every(ctx, s.cfg.PollInterval, func() { s.PollAndLog(ctx) })
}

// PollAndLog polls once and logs what happened.
func (s *Source) PollAndLog(ctx context.Context) {
	res, err := s.Poll(ctx)
	if ctx.Err() != nil {
		return
	}
	log := s.log.With().Str("repository", s.Redacted()).Str("branch", s.cfg.Branch).Logger()
	if ce, ok := errors.AsType[*CommitError](err); ok {
		s.lastErr = ""
		log.Error().Str("commit", ce.Commit).Str("errors", ce.Err.Error()).
			Msg("policy from git refused: the last good policy stays live")
		return
	}
	if err != nil {
		if msg := err.Error(); msg != s.lastErr {
			s.lastErr = msg
			log.Error().Err(err).Msg("polling the policy repository (will try again)")
		}
		return
	}
	s.lastErr = ""
	switch {
	case res.Seen:
	case res.Changed:
		ev := log.Info().Str("commit", res.Commit).Int64("version", res.Version)
		if res.Warning != "" {
			ev = ev.Str("warning", res.Warning)
		}
		ev.Msg("policy loaded from git")
	default:
		log.Info().Str("commit", res.Commit).Int64("version", res.Version).Msg("commit holds the live policy already")
	}
}
