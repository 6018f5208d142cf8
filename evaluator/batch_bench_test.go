package evaluator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
)

var sinkResults []CheckResult

// loadChecks returns n checks like those of castellan-load: 70% of them by
// a user holding a role on the repository (or on its organization, or the
// issue's creator), the rest by any user; one in five on an issue.
func loadChecks(facts []term.Fact, n int, seed uint64) []Check {
	rng := rand.New(rand.NewPCG(seed, 7))
	var users, repos, issues []term.Value
	var roles []term.Fact // has_role(User, _, Repository|Organization)
	orgRepos := map[term.Value][]term.Value{}
	repoIssues := map[term.Value][]term.Value{}
	seen := map[term.Value]bool{}
	for _, f := range facts {
		switch {
		case f.Predicate == "has_role" && len(f.Args) == 3:
			roles = append(roles, f)
			if !seen[f.Args[0]] {
				seen[f.Args[0]] = true
				users = append(users, f.Args[0])
			}
		case f.Predicate == "has_relation" && f.Args[1].ID == "organization":
			repos = append(repos, f.Args[0])
			orgRepos[f.Args[2]] = append(orgRepos[f.Args[2]], f.Args[0])
		case f.Predicate == "has_relation" && f.Args[1].ID == "repository":
			issues = append(issues, f.Args[0])
			repoIssues[f.Args[2]] = append(repoIssues[f.Args[2]], f.Args[0])
		}
	}
	pick := func(vs []term.Value) term.Value { return vs[rng.IntN(len(vs))] }
	out := make([]Check, n)
	for i := range out {
		u, res := pick(users), pick(repos)
		if rng.IntN(10) < 7 {
			f := roles[rng.IntN(len(roles))]
			u, res = f.Args[0], f.Args[2]
			if res.Type == "Organization" {
				res = pick(orgRepos[res])
			}
		}
		act := []string{"read", "read", "push", "create_issue", "delete"}[rng.IntN(5)]
		if is := repoIssues[res]; len(is) > 0 && rng.IntN(5) == 0 {
			res, act = pick(is), []string{"read", "close"}[rng.IntN(2)]
		}
		out[i] = Check{Actor: u, Action: act, Resource: res}
	}
	return out
}

// BenchmarkBatch measures batches of 100 unrelated checks (those of
// castellan-load batch's evaluations) on the GitHub-like model of evaltest
// at the size of castellan-load -facts 112000 (1,000 organizations, 10,000
// repositories): one Authorize per check against one AuthorizeBatch, and
// 100 actions questions in one ActionsEach. cpu-ns/op is per batch.
func BenchmarkBatch(b *testing.B) {
	const orgs, repos = 1_000, 10_000
	facts := evaltest.GitHubFacts(1, orgs, repos)
	src := loadMemory(b, facts)
	e := New(mustCompile(b, evaltest.GitHubPolicy))
	ctx := context.Background()
	req := Request{Source: src}
	const nbatch = 64
	batches := make([][]Check, nbatch)
	pairs := make([][][2]term.Value, nbatch)
	all := loadChecks(facts, nbatch*100, 1)
	for i := range batches {
		batches[i] = all[i*100 : (i+1)*100]
		for _, c := range batches[i] {
			pairs[i] = append(pairs[i], [2]term.Value{c.Actor, c.Resource})
		}
	}
	b.Logf("facts=%d", len(facts))
	name := fmt.Sprintf("facts=%d/checks=100", len(facts))
	b.Run("one-by-one/"+name, func(b *testing.B) {
		i := 0
		loop(b, func() {
			for _, c := range batches[i%nbatch] {
				sinkDecision, _ = e.Authorize(ctx, req, c.Actor, c.Action, c.Resource)
			}
			i++
		})
	})
	b.Run("authorize-batch/"+name, func(b *testing.B) {
		i := 0
		loop(b, func() {
			sinkResults = e.AuthorizeBatch(ctx, req, batches[i%nbatch])
			i++
		})
	})
	b.Run("actions-each/"+name, func(b *testing.B) {
		i := 0
		loop(b, func() {
			sinkActs, _ = e.ActionsEach(ctx, req, pairs[i%nbatch])
			i++
		})
	})
}

var sinkActs [][]string
