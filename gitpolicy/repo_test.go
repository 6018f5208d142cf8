package gitpolicy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// repo is a bare repository on disk, created with go-git, and a work tree
// in memory whose commits land straight in it (as a push would put them).
type repo struct {
	t    *testing.T
	dir  string
	fs   billy.Filesystem
	repo *git.Repository
	when time.Time
}

// newRepo creates a bare repository whose HEAD is refs/heads/main in a
// new directory under root, named name.
func newRepo(t *testing.T, root, name string) *repo {
	t.Helper()
	dir := filepath.Join(root, name)
	if _, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	}); err != nil {
		t.Fatal(err)
	}
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	fs := memfs.New()
	r, err := git.Open(st, fs)
	if err != nil {
		t.Fatal(err)
	}
	return &repo{t: t, dir: dir, fs: fs, repo: r, when: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
}

// commit writes files (an empty content removes the file) and commits
// them on main; it returns the commit hash.
func (r *repo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, src := range files {
		if src == "" {
			if _, err := wt.Remove(name); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := r.fs.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			r.t.Fatal(err)
		}
		f, err := r.fs.Create(name)
		if err != nil {
			r.t.Fatal(err)
		}
		if _, err := f.Write([]byte(src)); err != nil {
			r.t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			r.t.Fatal(err)
		}
	}
	r.when = r.when.Add(time.Minute)
	h, err := wt.Commit(msg, &git.CommitOptions{
		Author: &object.Signature{Name: "Alice", Email: "alice@example.com", When: r.when}, AllowEmptyCommits: true,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// needGit returns the path of the git binary, which the tests of served
// transports use to serve the repository (git daemon, git upload-pack,
// git http-backend); Castellan itself never runs it. Without it the test
// is skipped, except under CI=true, where git is installed with apt-get
// when running as root, and the test fails if it still cannot be found.
func needGit(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("git"); err == nil {
		return p
	}
	if os.Getenv("CI") != "true" {
		t.Skip("git is not installed: the served-transport tests need it to serve a repository (set CI=true to install it)")
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			out, err := exec.Command("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git").CombinedOutput()
			if err != nil {
				t.Logf("apt-get install git: %v\n%s", err, out)
			}
		}
	}
	p, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is not installed and could not be installed; under CI=true the served-transport tests must run")
	}
	return p
}
