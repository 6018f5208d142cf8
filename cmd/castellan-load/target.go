package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/evaluator/evaltest"
)

// startBaseline starts the no-op server the load is compared with: a chi
// router on a loopback port whose POST /api/authorize reads the body and
// answers a fixed {"allowed":true}. It returns the base URL and a function
// that stops the server.
func startBaseline() (string, func(), error) {
	r := chi.NewRouter()
	answer := []byte(`{"allowed":true}` + "\n")
	r.Post("/api/authorize", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the baseline server: %w", err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + l.Addr().String(), stop, nil
}

// noopEnv set to "1" makes this program serve the no-op baseline instead
// of generating load: the child side of -noop-process.
const noopEnv = "CASTELLAN_LOAD_NOOP_SERVER"

// serveNoop serves the no-op baseline, writes its base URL as one line to
// out, and returns when in reaches its end (the parent closed it).
func serveNoop(in io.Reader, out io.Writer) error {
	base, stop, err := startBaseline()
	if err != nil {
		return err
	}
	defer stop()
	if _, err := fmt.Fprintln(out, base); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, in)
	return err
}

// startBaselineProcess starts the no-op baseline in a child process (this
// program, with noopEnv set), so that, like castellan serve, it has its own
// Go runtime and threads. It returns the base URL, a function that stops
// the child, and the child's process id.
func startBaselineProcess() (string, func(), int, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, 0, fmt.Errorf("finding this program to start the no-op server: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), noopEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, 0, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, 0, fmt.Errorf("starting the no-op server process: %w", err)
	}
	exited := make(chan error, 1)
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() { exited <- cmd.Wait() }()
	if err != nil {
		stop()
		return "", nil, 0, fmt.Errorf("the no-op server process did not give its address: %w", err)
	}
	return strings.TrimSpace(line), stop, cmd.Process.Pid, nil
}

// checkLoopback refuses any base URL whose host is not a loopback address:
// this tool generates load and must not be pointed at shared servers.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("parsing -url %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url %q: scheme must be http or https", base)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-url %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed", base)
}

// serveProcess is a `castellan serve` process started by this tool.
type serveProcess struct {
	url    string
	cmd    *exec.Cmd
	exited chan error
	log    *os.File
}

// findCastellan returns the binary to start: bin if set, else
// ./bin/castellan if it exists, else castellan on the PATH.
func findCastellan(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if _, err := os.Stat(filepath.Join("bin", "castellan")); err == nil {
		return filepath.Join("bin", "castellan"), nil
	}
	p, err := exec.LookPath("castellan")
	if err != nil {
		return "", fmt.Errorf("no castellan binary: build it with `make build` or pass -castellan: %w", err)
	}
	return p, nil
}

// startCastellan starts `castellan serve --dev` on a free loopback port (with
// databaseURL, on Postgres with --migrate; else on the memory store) and
// waits until it answers GET /api/healthcheck. Its output goes to a
// temporary file, shown when it fails.
func startCastellan(ctx context.Context, bin, databaseURL string, extra []string) (*serveProcess, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	args := []string{"serve", "--addr", addr, "--dev"}
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL, "--migrate")
	}
	args = append(args, extra...)
	logf, err := os.CreateTemp("", "castellan-load-serve-*.log")
	if err != nil {
		return nil, fmt.Errorf("creating the server log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.Remove(logf.Name())
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	c := &serveProcess{url: "http://" + addr, cmd: cmd, exited: make(chan error, 1), log: logf}
	go func() { c.exited <- cmd.Wait() }()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(c.url + "/api/healthcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case werr := <-c.exited:
			c.exited <- werr
			out := c.tail()
			c.stop()
			return nil, fmt.Errorf("castellan %s exited before answering (%v):\n%s", strings.Join(args, " "), werr, out)
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out := c.tail()
			c.stop()
			return nil, fmt.Errorf("castellan serve did not answer within 60s:\n%s", out)
		}
	}
}

// stop ends the server (SIGINT, then kill after 10 s) and removes its log.
func (c *serveProcess) stop() error {
	defer os.Remove(c.log.Name())
	defer c.log.Close()
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errors.New("castellan serve did not stop within 10s of SIGINT; killed")
	}
}

// tail returns the last lines of the server's output.
func (c *serveProcess) tail() string {
	b, err := os.ReadFile(c.log.Name())
	if err != nil {
		return err.Error()
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// load uploads the policy and inserts the model's facts through the Go
// client, in batches of chunk facts, returning how many facts were sent.
// The client remembers the revision of the last write (its Offset).
func load(ctx context.Context, c *castellan.Client, m *model, chunk int, clear bool) (int, error) {
	if clear {
		if err := c.Clear(ctx); err != nil {
			return 0, err
		}
	}
	if _, err := c.UploadPolicy(ctx, castellan.PolicyFile{Filename: "github.polar", Src: evaltest.GitHubPolicy}); err != nil {
		return 0, err
	}
	n := 0
	for batch := range slices.Chunk(m.facts, chunk) {
		err := c.Batch(ctx, func(tx *castellan.Tx) {
			for _, f := range batch {
				tx.Insert(clientFact(f))
			}
		})
		if err != nil {
			return n, fmt.Errorf("loading facts: %w", err)
		}
		n += len(batch)
	}
	return n, nil
}
