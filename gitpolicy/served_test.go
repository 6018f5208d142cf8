package gitpolicy_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/castellan-authz/castellan/gitpolicy"
)

// TestGitDaemon follows a repository served by `git daemon` on loopback
// over git://.
func TestGitDaemon(t *testing.T) {
	gitBin := needGit(t)
	root := t.TempDir()
	r := newRepo(t, root, "policies.git")
	c1 := r.commit("members read", map[string]string{"policies/main.polar": policyV1, "policies/shared.polar": shared})

	port := freePort(t)
	// git-daemon itself, not `git daemon`, which would leave it running
	// when killed.
	cmd := exec.Command(filepath.Join(gitExecPath(t, gitBin), "git-daemon"), "--reuseaddr", "--export-all", "--base-path="+root,
		"--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), root)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("git daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port), &stderr)

	s, m, st, log := source(t, gitpolicy.Config{URL: fmt.Sprintf("git://127.0.0.1:%d/policies.git", port), Path: "policies"})
	testFollow(t, r, s, m, st, log, c1)
}

// TestHTTPToken follows a repository served by git http-backend over
// HTTP behind a token check, the token read from the environment or a
// file; a wrong token is refused.
func TestHTTPToken(t *testing.T) {
	gitBin := needGit(t)
	root := t.TempDir()
	r := newRepo(t, root, "policies.git")
	c1 := r.commit("members read", map[string]string{"policies/main.polar": policyV1, "policies/shared.polar": shared})
	const token = "s3cret-token"
	backend := &cgi.Handler{
		Path: filepath.Join(gitExecPath(t, gitBin), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if user, pass, ok := req.BasicAuth(); !ok || user != "ci" || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/policies.git"

	t.Setenv("POLICY_TOKEN", token)
	s, m, st, log := source(t, gitpolicy.Config{URL: url, Path: "policies", Username: "ci", TokenEnv: "POLICY_TOKEN"})
	testFollow(t, r, s, m, st, log, c1)
	if strings.Contains(log.String(), token) {
		t.Error("the token was logged")
	}

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _, _, _ = source(t, gitpolicy.Config{URL: url, Path: "policies", Username: "ci", TokenFile: tokenFile})
	if res := mustPoll(t, s); !res.Changed {
		t.Errorf("poll with the token from a file = %+v", res)
	}

	if err := os.WriteFile(tokenFile, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _, _, _ = source(t, gitpolicy.Config{URL: url, Path: "policies", Username: "ci", TokenFile: tokenFile})
	_, err := s.Poll(t.Context())
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("poll with a wrong token: %v, want an error that does not show the token", err)
	}
}

// TestSSH follows a repository over SSH from an in-process SSH server
// (golang.org/x/crypto/ssh) that runs git upload-pack; the server's host
// key must match the known_hosts file.
func TestSSH(t *testing.T) {
	gitBin := needGit(t)
	root := t.TempDir()
	r := newRepo(t, root, "policies.git")
	c1 := r.commit("members read", map[string]string{"policies/main.polar": policyV1, "policies/shared.polar": shared})

	dir := t.TempDir()
	clientPub, clientKey := newKey(t)
	keyFile := filepath.Join(dir, "id_ed25519")
	block, err := ssh.MarshalPrivateKey(clientKey, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	hostPub, hostKey := newKey(t)
	addr := serveSSH(t, gitBin, root, hostKey, clientPub)
	host, port, _ := net.SplitHostPort(addr)

	writeKnownHosts := func(keys ...ssh.PublicKey) string {
		var b strings.Builder
		b.WriteString("# hosts\n")
		for _, k := range keys {
			b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr)}, k) + "\n")
		}
		f := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	url := fmt.Sprintf("ssh://git@%s/policies.git", addr)

	t.Run("match", func(t *testing.T) {
		s, m, st, log := source(t, gitpolicy.Config{URL: url, Path: "policies", SSHKey: keyFile, KnownHosts: writeKnownHosts(hostPub)})
		testFollow(t, r, s, m, st, log, c1)
	})

	t.Run("key with a passphrase", func(t *testing.T) {
		block, err := ssh.MarshalPrivateKeyWithPassphrase(clientKey, "", []byte("open sesame"))
		if err != nil {
			t.Fatal(err)
		}
		encrypted := filepath.Join(dir, "id_encrypted")
		if err := os.WriteFile(encrypted, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"KEY_PASS": "open sesame"}
		cfg := gitpolicy.Config{URL: url, Path: "policies", SSHKey: encrypted, SSHKeyPassphraseEnv: "KEY_PASS",
			KnownHosts: writeKnownHosts(hostPub), Getenv: func(k string) string { return env[k] }}
		s, _, _, _ := source(t, cfg)
		if res := mustPoll(t, s); !res.Changed {
			t.Errorf("poll with an encrypted key = %+v", res)
		}
		env["KEY_PASS"] = ""
		if _, err := gitpolicy.New(cfg, nil, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "KEY_PASS is empty") {
			t.Errorf("New without the passphrase: %v", err)
		}
		env["KEY_PASS"] = "wrong"
		if _, err := gitpolicy.New(cfg, nil, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "policy.git.ssh_key "+encrypted) {
			t.Errorf("New with a wrong passphrase: %v", err)
		}
	})

	t.Run("mismatch", func(t *testing.T) {
		otherPub, _ := newKey(t)
		kh := writeKnownHosts(otherPub)
		s, m, _, _ := source(t, gitpolicy.Config{URL: url, Path: "policies", SSHKey: keyFile, KnownHosts: kh})
		_, err := s.Poll(t.Context())
		he, ok := errors.AsType[*gitpolicy.HostKeyError](err)
		if !ok || !he.Mismatch || len(he.Lines) != 1 || he.Lines[0] != 2 {
			t.Fatalf("poll with another host key in known_hosts: %v, want a HostKeyError mismatch at line 2", err)
		}
		for _, want := range []string{"ssh host key mismatch for " + addr, kh + ":2", ssh.FingerprintSHA256(hostPub),
			"ssh-keyscan -p " + port + " " + host, "replace that line"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mismatch error %q does not say %q", err, want)
			}
		}
		if m.Live().Version() != 0 {
			t.Error("a policy was loaded through a host with the wrong key")
		}
	})

	t.Run("unknown host", func(t *testing.T) {
		kh := writeKnownHosts()
		s, _, _, _ := source(t, gitpolicy.Config{URL: url, Path: "policies", SSHKey: keyFile, KnownHosts: kh})
		_, err := s.Poll(t.Context())
		he, ok := errors.AsType[*gitpolicy.HostKeyError](err)
		if !ok || he.Mismatch || !strings.Contains(err.Error(), "is not in the known_hosts file "+kh) {
			t.Fatalf("poll of a host known_hosts does not know: %v", err)
		}
	})
}

func newKey(t *testing.T) (ssh.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp, priv
}

// serveSSH starts an SSH server on loopback that accepts the client key
// and runs `git upload-pack` for exec requests on repositories under
// root; it returns its address.
func serveSSH(t *testing.T, gitBin, root string, hostKey ed25519.PrivateKey, client ssh.PublicKey) string {
	t.Helper()
	signer, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), client.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSHConn(c, cfg, gitBin, root)
			}()
		}
	}()
	return ln.Addr().String()
}

func serveSSHConn(c net.Conn, cfg *ssh.ServerConfig, gitBin, root string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				if req.Type != "exec" {
					_ = req.Reply(false, nil)
					continue
				}
				var payload struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
					_ = req.Reply(false, nil)
					return
				}
				// "git-upload-pack '/policies.git'"
				verb, arg, _ := strings.Cut(payload.Command, " ")
				if verb != "git-upload-pack" {
					_ = req.Reply(false, nil)
					return
				}
				repo := filepath.Join(root, filepath.Clean("/"+strings.Trim(arg, "'")))
				_ = req.Reply(true, nil)
				cmd := exec.Command(gitBin, "upload-pack", repo)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				status := uint32(0)
				if err := cmd.Run(); err != nil {
					status = 1
				}
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
				return
			}
		}()
	}
}

// gitExecPath returns the directory of git's programs (git-daemon,
// git-http-backend).
func gitExecPath(t *testing.T, gitBin string) string {
	t.Helper()
	out, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts connections (a server starting).
func waitListening(t *testing.T, addr string, stderr io.Reader) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			out, _ := io.ReadAll(stderr)
			t.Fatalf("%s never listened: %v\n%s", addr, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
