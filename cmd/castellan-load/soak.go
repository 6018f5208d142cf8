package main

// castellan-load soak: does a long-running server keep a flat memory
// profile? Writers tell and delete facts with values never seen before,
// readers authorize with unique context facts, for -d; the server's RSS
// after -warm is compared with its RSS at the end.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type soakConfig struct {
	castellan   string
	databaseURL string
	retention   time.Duration
	duration    time.Duration
	warm        time.Duration
	writers     int
	readers     int
	live        int
	tolerance   float64
	serveArgs   []string
}

func parseSoakFlags(args []string, stderr io.Writer) (*soakConfig, error) {
	c := &soakConfig{}
	fs := flag.NewFlagSet("castellan-load soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.castellan, "castellan", "", "castellan binary (default ./bin/castellan, else castellan on the PATH)")
	fs.StringVar(&c.databaseURL, "database-url", "", "run the server on this PostgreSQL database (default: the memory store)")
	fs.DurationVar(&c.retention, "retention", 30*time.Second, "the server's --change-log-retention")
	fs.DurationVar(&c.duration, "d", 10*time.Minute, "how long to churn")
	fs.DurationVar(&c.warm, "warm", time.Minute, "the RSS after this is the reference")
	fs.IntVar(&c.writers, "writers", 2, "concurrent writers")
	fs.IntVar(&c.readers, "readers", 2, "concurrent readers")
	fs.IntVar(&c.live, "live", 1000, "facts each writer keeps stored (older ones are deleted)")
	fs.Float64Var(&c.tolerance, "tolerance", 0.10, "largest growth of the RSS from -warm to the end")
	serveArgs := fs.String("serve-args", "", "extra space-separated arguments for castellan serve (e.g. --debug-addr 127.0.0.1:6060 to profile it)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.serveArgs = strings.Fields(*serveArgs)
	if c.writers < 1 || c.readers < 1 || c.live < 1 || c.warm <= 0 || c.duration <= c.warm {
		return nil, errors.New("-writers, -readers and -live must be at least 1, and -d longer than -warm")
	}
	return c, nil
}

// rss returns the resident set size of process pid, in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseSoakFlags(args, stderr)
	if err != nil {
		return err
	}
	bin, err := findCastellan(cfg.castellan)
	if err != nil {
		return err
	}
	srv, err := startCastellan(ctx, bin, cfg.databaseURL, append([]string{"--change-log-retention", cfg.retention.String(), "--log-level", "warn"}, cfg.serveArgs...))
	if err != nil {
		return err
	}
	defer srv.stop()
	pid := srv.cmd.Process.Pid
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	call := func(method, path string, body any) (int, []byte) {
		st, _, b := callJSON(ctx, client, devToken, srv.url, method, path, body, 0)
		return st, b
	}
	if st, b := call("POST", "/api/policy", map[string]any{"filename": "soak.polar", "src": failoverPolicy}); st != 200 {
		return fmt.Errorf("uploading the policy: %d %s", st, b)
	}
	store := "memory"
	if cfg.databaseURL != "" {
		store = "postgres"
	}
	fmt.Fprintf(stdout, "soak: castellan serve (%s store, --change-log-retention %s) pid %d; %d writers, %d readers for %s\n",
		store, cfg.retention, pid, cfg.writers, cfg.readers, cfg.duration)

	lctx, stop := context.WithTimeout(ctx, cfg.duration)
	defer stop()
	var writes, reads, wrong, failed atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range cfg.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int
			for lctx.Err() == nil {
				n := int(next.Add(1))
				if st, _ := call("POST", "/api/facts", roleFact(n)); st == 200 {
					writes.Add(1)
					mine = append(mine, n)
				} else if lctx.Err() == nil {
					failed.Add(1)
				}
				if len(mine) > cfg.live {
					if st, _ := call("DELETE", "/api/facts", roleFact(mine[0])); st == 200 {
						writes.Add(1)
					} else if lctx.Err() == nil {
						failed.Add(1)
					}
					mine = mine[1:]
				}
			}
			_ = w
		}()
	}
	for r := range cfg.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; lctx.Err() == nil; k++ {
				id := fmt.Sprintf("ctx-%d-%d", r, k) // never seen before: a unique context fact
				body := map[string]any{"actor_type": "User", "actor_id": id, "action": "read",
					"resource_type": "Repository", "resource_id": id,
					"context_facts": []any{map[string]any{"predicate": "has_role", "args": []wireValue{
						{"User", id}, {"String", "viewer"}, {"Repository", id}}}}}
				st, b := call("POST", "/api/authorize", body)
				if lctx.Err() != nil {
					return
				}
				var got struct {
					Allowed bool `json:"allowed"`
				}
				switch {
				case st != 200:
					failed.Add(1)
				case json.Unmarshal(b, &got) != nil || !got.Allowed:
					wrong.Add(1)
				default:
					reads.Add(1)
				}
			}
		}()
	}

	start := time.Now()
	var atWarm, peak, last int64
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for lctx.Err() == nil {
		select {
		case <-lctx.Done():
		case <-tick.C:
			r, err := rss(pid)
			if err != nil {
				stop()
				wg.Wait()
				return fmt.Errorf("reading the server's RSS: %w", err)
			}
			last, peak = r, max(peak, r)
			if atWarm == 0 && time.Since(start) >= cfg.warm {
				atWarm = r
			}
			fmt.Fprintf(stdout, "soak: %4.0fs  rss %6.1f MB  writes %d  reads %d\n", time.Since(start).Seconds(), float64(r)/(1<<20), writes.Load(), reads.Load())
		}
	}
	wg.Wait()
	if r, err := rss(pid); err == nil {
		last = r
	}
	growth := float64(last-atWarm) / float64(atWarm)
	fmt.Fprintf(stdout, "soak: %d writes, %d authorizes with unique context facts, %d wrong, %d failed; RSS after %s %.1f MB, at the end %.1f MB (%+.1f%%), peak %.1f MB\n",
		writes.Load(), reads.Load(), wrong.Load(), failed.Load(), cfg.warm, float64(atWarm)/(1<<20), float64(last)/(1<<20), 100*growth, float64(peak)/(1<<20))
	switch {
	case wrong.Load() > 0:
		return fmt.Errorf("soak: %d wrong answers", wrong.Load())
	case atWarm == 0:
		return errors.New("soak: no RSS sample after -warm")
	case growth > cfg.tolerance:
		return fmt.Errorf("soak: the RSS grew %.1f%% after %s, more than %.0f%%", 100*growth, cfg.warm, 100*cfg.tolerance)
	}
	fmt.Fprintln(stdout, "soak: PASS")
	return nil
}
