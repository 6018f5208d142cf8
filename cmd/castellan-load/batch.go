package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The batch mode (castellan-load batch) measures checks per second when
// the checks come in batches over HTTP: POST /api/authorize_resources (one
// actor and action, -batch-size resources), POST /api/bulk_actions
// (-batch-size actions questions) and POST /access/v1/evaluations
// (-batch-size evaluations), with single POST /api/authorize checks in the
// same run for comparison. Every answer is checked against the model's
// oracle, check by check (or found equal, byte for byte, to an answer to
// the same request checked so); a wrong one fails the run. The CPU time of
// the server and of the generator itself per check are printed: the two
// share the machine's cores. (/api/batch is a
// batch of fact changes, not of checks: see the writes mode.)

// batchEndpoints are the endpoints the batch mode knows, in the order it
// drives them.
var batchEndpoints = []string{"authorize", "authorize_resources", "bulk_actions", "evaluations"}

// batchCall is one prepared request of the batch mode and how to check
// its answer.
type batchCall struct {
	body   []byte
	checks int // checks the request asks
	// verify checks the answer and returns how many of its checks are wrong
	// (an answer of the wrong shape is an error).
	verify func(answer []byte) (wrong int, err error)
	// known holds the last answer verify found right: an answer equal to
	// it, byte for byte, is right too, without decoding it again (the
	// generator's decoding would otherwise take a good part of the CPU the
	// server needs, on a machine the two share).
	known *atomic.Pointer[[]byte]
}

// check verifies an answer to c: equal to the one found right before, or
// checked by verify (and remembered when right).
func (c *batchCall) check(ans []byte) (int, error) {
	if k := c.known.Load(); k != nil && bytes.Equal(*k, ans) {
		return 0, nil
	}
	wrong, err := c.verify(ans)
	if err == nil && wrong == 0 {
		k := bytes.Clone(ans)
		c.known.Store(&k)
	}
	return wrong, err
}

// batchTarget is one endpoint's prepared requests.
type batchTarget struct {
	name  string
	path  string
	calls []batchCall
	res   *result // requests, errors, latencies per request
	nchk  int     // checks answered
	wrong int     // checks answered wrongly (result.wrong counts requests)
}

// runBatch runs the batch mode.
func runBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.batchSize < 1 {
		return errors.New("-batch-size must be at least 1")
	}
	names := strings.Split(cfg.endpoints, ",")
	for _, n := range names {
		if !slices.Contains(batchEndpoints, n) {
			return fmt.Errorf("-endpoints: unknown endpoint %q (known: %s)", n, strings.Join(batchEndpoints, ","))
		}
	}
	ses, err := openSession(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer ses.close()
	m := ses.model
	// Enough distinct questions that batches do not repeat within a run
	// of a few seconds.
	nbatch := max(1, min(cfg.checks, 20_000)/cfg.batchSize) + 1
	checks := m.checks(cfg.seed, nbatch*cfg.batchSize, cfg.related)
	rng := rand.New(rand.NewPCG(cfg.seed, 0xba7c4))
	var targets []*batchTarget
	for _, n := range names {
		t := &batchTarget{name: n, res: &result{name: n}}
		for i := range nbatch {
			group := checks[i*cfg.batchSize : (i+1)*cfg.batchSize]
			var c batchCall
			switch n {
			case "authorize":
				t.path = "/api/authorize"
				c = authorizeCall(checks[i])
			case "authorize_resources":
				t.path = "/api/authorize_resources"
				c = m.authorizeResourcesCall(rng, cfg.batchSize)
			case "bulk_actions":
				t.path = "/api/bulk_actions"
				c = m.bulkActionsCall(group)
			case "evaluations":
				t.path = "/access/v1/evaluations"
				c = m.evaluationsCall(group)
			}
			c.known = new(atomic.Pointer[[]byte])
			t.calls = append(t.calls, c)
		}
		targets = append(targets, t)
	}
	ses.model = nil
	for _, t := range targets {
		if cfg.warmup > 0 {
			fmt.Fprintf(stdout, "warming up %s for %s ...\n", t.name, cfg.warmup)
			t.run(ctx, ses, cfg.conc, cfg.warmup, 0)
		}
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	slice := cfg.duration / time.Duration(cfg.rounds)
	fmt.Fprintf(stdout, "measuring for %s per endpoint at concurrency %d, in %d turns of %s ...\n", cfg.duration, cfg.conc, cfg.rounds, slice)
	for round := range cfg.rounds {
		for _, t := range targets {
			cpu := cpuMeter{pid: ses.serverPID}
			cpu.measure(t.res, func() {
				r, nchk, wrong := t.run(ctx, ses, cfg.conc, slice, round*7919)
				t.res.add(r)
				t.nchk += nchk
				t.wrong += wrong
			})
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "\nmachine: %s\n", machine())
	fmt.Fprintf(stdout, "client: %s\n", cfg.client)
	fmt.Fprintf(stdout, "data: %d facts loaded in %s, store %s; %d checks per batch, concurrency %d, %s per endpoint in %d turns after %s warm-up\n",
		ses.facts, ses.load.Round(time.Millisecond), ses.store, cfg.batchSize, cfg.conc, cfg.duration, cfg.rounds, cfg.warmup)
	fmt.Fprintf(stdout, "%-20s %9s %9s %10s %9s %9s %7s %6s %14s %14s\n", "endpoint", "requests", "req/s", "checks/s", "p50", "p99", "errors", "wrong", "server CPU", "load CPU")
	var failed []string
	for _, t := range targets {
		slices.Sort(t.res.lat)
		// CPU per check of the server and of this load generator (the two
		// share the machine's cores: their sum bounds checks/s).
		cpu, self := "-", "-"
		if t.res.serverCPUKnown && t.nchk > 0 {
			cpu = fmt.Sprintf("%s/check", fmtDur(t.res.serverCPU/time.Duration(t.nchk)))
		}
		if t.res.selfCPUKnown && t.nchk > 0 {
			self = fmt.Sprintf("%s/check", fmtDur(t.res.selfCPU/time.Duration(t.nchk)))
		}
		fmt.Fprintf(stdout, "%-20s %9d %9.0f %10.0f %9s %9s %7d %6d %14s %14s\n", t.name, t.res.requests, t.res.rps(),
			float64(t.nchk)/t.res.elapsed.Seconds(), fmtDur(t.res.quantile(0.5)), fmtDur(t.res.quantile(0.99)),
			t.res.errors, t.wrong, cpu, self)
		if t.res.errors > 0 || t.wrong > 0 || t.res.requests == 0 {
			failed = append(failed, fmt.Sprintf("%s: %d requests, %d errors, %d wrong checks (first: %s)", t.name, t.res.requests, t.res.errors, t.wrong, t.res.firstErr))
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// run drives t with conc workers for d, starting at call number first, and
// returns the measurements, the checks answered and those answered wrongly.
func (t *batchTarget) run(ctx context.Context, ses *session, conc int, d time.Duration, first int) (*result, int, int) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu           sync.Mutex
		res          = &result{name: t.name}
		nchk, nwrong atomic.Int64
		wg           sync.WaitGroup
	)
	url := ses.base + t.path
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &result{lat: make([]time.Duration, 0, 1<<12)}
			buf := make([]byte, 0, 4096)
			for i := first + w; ctx.Err() == nil; i += conc {
				c := &t.calls[i%len(t.calls)]
				t0 := time.Now()
				ans, err := post(ctx, ses, url, c.body, &buf)
				lat := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					break
				}
				local.requests++
				local.lat = append(local.lat, lat)
				if err == nil {
					var wrong int
					wrong, err = c.check(ans)
					if wrong > 0 {
						nwrong.Add(int64(wrong))
						if local.firstErr == "" {
							local.firstErr = fmt.Sprintf("%d wrong answers to %s in %s", wrong, c.body, ans)
						}
					}
					nchk.Add(int64(c.checks))
				}
				if err != nil {
					local.errors++
					if local.firstErr == "" {
						local.firstErr = err.Error()
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.add(local)
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, int(nchk.Load()), int(nwrong.Load())
}

// post sends body to url with the session's headers and returns the
// answer of a 200 (read into buf) or an error.
func post(ctx context.Context, ses *session, url string, body []byte, buf *[]byte) ([]byte, error) {
	status, err := ses.poster.post(ctx, url, ses.header, body, buf)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", status, bytes.TrimSpace(*buf))
	}
	return *buf, nil
}

// authorizeCall is one check as a single POST /api/authorize.
func authorizeCall(c check) batchCall {
	return batchCall{body: c.body, checks: 1, verify: func(ans []byte) (int, error) {
		var out struct {
			Allowed *bool `json:"allowed"`
		}
		if err := json.Unmarshal(ans, &out); err != nil || out.Allowed == nil {
			return 0, fmt.Errorf("answer %q is not {\"allowed\": bool}", ans)
		}
		if *out.Allowed != c.allowed {
			return 1, nil
		}
		return 0, nil
	}}
}

// authorizeResourcesCall is one POST /api/authorize_resources: a member
// or owner of an organization asks one repository action on n
// repositories, half of them (drawn at random) its organization's, the
// others any; the answer must be the allowed ones in request order.
func (m *model) authorizeResourcesCall(rng *rand.Rand, n int) batchCall {
	orgRepos := m.orgRepos()
	var o int32
	for {
		o = int32(rng.IntN(m.orgs))
		if len(m.orgRoles[o]) > 0 && len(orgRepos[o]) > 0 {
			break
		}
	}
	user := m.orgRoles[o][rng.IntN(len(m.orgRoles[o]))].user
	action := []string{"read", "read", "push", "create_issue", "delete"}[rng.IntN(5)]
	var req struct {
		ActorType    string      `json:"actor_type"`
		ActorID      string      `json:"actor_id"`
		Action       string      `json:"action"`
		Resources    []wireValue `json:"resources"`
		ContextFacts []any       `json:"context_facts"`
	}
	req.ActorType, req.ActorID, req.Action, req.ContextFacts = "User", m.users[user], action, []any{}
	var want []wireValue
	for range n {
		r := int32(rng.IntN(len(m.repoIDs)))
		if rng.IntN(2) == 0 {
			r = orgRepos[o][rng.IntN(len(orgRepos[o]))]
		}
		v := wireValue{"Repository", m.repoIDs[r]}
		req.Resources = append(req.Resources, v)
		if m.repoAllowed(user, action, r) {
			want = append(want, v)
		}
	}
	body, _ := json.Marshal(req)
	return batchCall{body: body, checks: n, verify: func(ans []byte) (int, error) {
		var out struct {
			Results []wireValue `json:"results"`
		}
		if err := json.Unmarshal(ans, &out); err != nil || out.Results == nil {
			return 0, fmt.Errorf("answer %.200q is not {\"results\": [value...]}", ans)
		}
		if slices.Equal(out.Results, want) {
			return 0, nil
		}
		// Count the checks answered wrongly: resources missing or extra
		// (an answer with the right resources in another order counts one).
		count := map[wireValue]int{}
		for _, v := range want {
			count[v]++
		}
		for _, v := range out.Results {
			count[v]--
		}
		wrong := 0
		for _, d := range count {
			wrong += max(d, -d)
		}
		return max(wrong, 1), nil
	}}
}

// orgRepos lists the repositories of each organization (made once).
func (m *model) orgRepos() map[int32][]int32 {
	if m.byOrg == nil {
		m.byOrg = map[int32][]int32{}
		for r, o := range m.repoOrg {
			if o >= 0 {
				m.byOrg[o] = append(m.byOrg[o], int32(r))
			}
		}
	}
	return m.byOrg
}

// bulkActionsCall is one POST /api/bulk_actions of the checks' users and
// resources; each answer must be the actions the oracle allows.
func (m *model) bulkActionsCall(group []check) batchCall {
	type actionsReq struct {
		ActorType    string `json:"actor_type"`
		ActorID      string `json:"actor_id"`
		ResourceType string `json:"resource_type"`
		ResourceID   string `json:"resource_id"`
		ContextFacts []any  `json:"context_facts"`
	}
	reqs := make([]actionsReq, len(group))
	want := make([][]string, len(group))
	for i, c := range group {
		reqs[i] = actionsReq{"User", m.users[c.user], c.resType, c.resID, []any{}}
		var acts []string
		if c.resType == "Issue" {
			for _, a := range []string{"close", "read"} {
				if m.issueAllowed(c.user, a, c.res) {
					acts = append(acts, a)
				}
			}
		} else {
			for _, a := range []string{"create_issue", "delete", "push", "read"} {
				if m.repoAllowed(c.user, a, c.res) {
					acts = append(acts, a)
				}
			}
		}
		want[i] = acts
	}
	body, _ := json.Marshal(reqs)
	return batchCall{body: body, checks: len(group), verify: func(ans []byte) (int, error) {
		var out []struct {
			Results []string `json:"results"`
		}
		if err := json.Unmarshal(ans, &out); err != nil || len(out) != len(want) {
			return 0, fmt.Errorf("answer %.200q is not %d {\"results\": [...]}", ans, len(want))
		}
		wrong := 0
		for i, o := range out {
			slices.Sort(o.Results)
			if !slices.Equal(o.Results, want[i]) {
				wrong++
			}
		}
		return wrong, nil
	}}
}

// evaluationsCall is one POST /access/v1/evaluations of the checks.
func (m *model) evaluationsCall(group []check) batchCall {
	type entity struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	type evaluation struct {
		Subject entity `json:"subject"`
		Action  struct {
			Name string `json:"name"`
		} `json:"action"`
		Resource entity `json:"resource"`
	}
	var req struct {
		Evaluations []evaluation `json:"evaluations"`
	}
	want := make([]bool, len(group))
	for i, c := range group {
		e := evaluation{Subject: entity{"User", m.users[c.user]}, Resource: entity{c.resType, c.resID}}
		e.Action.Name = c.action
		want[i] = c.allowed
		req.Evaluations = append(req.Evaluations, e)
	}
	body, _ := json.Marshal(req)
	return batchCall{body: body, checks: len(group), verify: func(ans []byte) (int, error) {
		var out struct {
			Evaluations []struct {
				Decision *bool `json:"decision"`
			} `json:"evaluations"`
		}
		if err := json.Unmarshal(ans, &out); err != nil || len(out.Evaluations) != len(want) {
			return 0, fmt.Errorf("answer %.200q is not %d evaluations", ans, len(want))
		}
		wrong := 0
		for i, e := range out.Evaluations {
			if e.Decision == nil {
				return 0, fmt.Errorf("evaluation %d has no decision: %.200q", i, ans)
			}
			if *e.Decision != want[i] {
				wrong++
			}
		}
		return wrong, nil
	}}
}
