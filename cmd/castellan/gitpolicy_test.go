package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// gitCommitter commits into a bare repository on disk from a work tree in
// memory, as a push would.
func gitCommitter(t *testing.T, dir string) func(name, src string) string {
	t.Helper()
	if _, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	}); err != nil {
		t.Fatal(err)
	}
	fs := memfs.New()
	r, err := git.Open(filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault()), fs)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	return func(name, src string) string {
		t.Helper()
		f, err := fs.Create(name)
		if err == nil {
			_, err = f.Write([]byte(src))
		}
		if err == nil {
			err = f.Close()
		}
		if err == nil {
			_, err = wt.Add(name)
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := wt.Commit("edit "+name, &git.CommitOptions{Author: &object.Signature{Name: "Bob", Email: "bob@example.com", When: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
}

// TestServePolicyGit: serve follows a policy repository given in the
// config file's policy.git section; a broken commit is logged with its
// position and the last good policy stays live.
func TestServePolicyGit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policies.git")
	commit := gitCommitter(t, dir)
	c1 := commit("policies/main.polar", servePolicy)
	cfg := writeConfig(t, "policy:\n  git:\n    url: "+dir+"\n    branch: main\n    path: policies\n    poll_interval: 20ms\n")
	rs := startServe(t, nil, "--config", cfg)
	if !rs.allowed(t, "a", "read", "d") {
		t.Fatalf("the policy of the repository is not live:\n%s", rs.log)
	}

	commit("policies/main.polar", servePolicy+"\nresource Broken {\n")
	waitFor(t, func() bool { return strings.Contains(rs.log.String(), "policy from git refused") })
	if !strings.Contains(rs.log.String(), "policies/main.polar:") {
		t.Errorf("the refusal does not name the file position:\n%s", rs.log)
	}
	if !rs.allowed(t, "a", "read", "d") {
		t.Fatal("a broken commit replaced the live policy")
	}

	edited := "actor User {}\nresource Doc {\n  roles = [\"reader\", \"owner\"];\n  permissions = [\"read\"];\n  \"read\" if \"owner\";\n}\n"
	c3 := commit("policies/main.polar", edited)
	waitFor(t, func() bool { return !rs.allowed(t, "a", "read", "d") })

	resp, err := http.Get(rs.url + "/admin/v1/policies")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Policies []struct {
			Version int64
			Source  string
			Commit  string
			Status  string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Policies) != 2 || out.Policies[0].Commit != c3 || out.Policies[1].Commit != c1 ||
		out.Policies[0].Source != "git" || out.Policies[0].Status != "live" || out.Policies[1].Status != "previous" {
		t.Errorf("versions %+v: want the commits %s (live) and %s from git", out.Policies, c3, c1)
	}
}
