package storetest

import (
	"iter"
	"strconv"

	"github.com/castellan-authz/castellan/lang/term"
)

// GitHubFacts returns n distinct facts of a GitHub-like model,
// deterministically: one has_relation(Repository, "parent", Organization)
// and one has_role(User, "member", Organization) per nine has_role(User,
// role, Repository) facts. With n facts there are about n/10 repositories,
// n/10 users (at least 16) and n/1000 organizations (at least 1).
func GitHubFacts(n int) iter.Seq[term.Fact] {
	return func(yield func(term.Fact) bool) {
		for i := range n {
			if !yield(GitHubFact(i, n)) {
				return
			}
		}
	}
}

// GitHubFact returns fact i of GitHubFacts(n).
func GitHubFact(i, n int) term.Fact {
	users := max(n/10, 16)
	orgs := max(n/1000, 1)
	k, j := i/10, i%10
	repo := term.Entity("Repository", "repo-"+strconv.Itoa(k))
	org := term.Entity("Organization", "org-"+strconv.Itoa(k%orgs))
	switch j {
	case 0:
		return term.Fact{Predicate: "has_relation", Args: []term.Value{repo, term.String("parent"), org}}
	case 1:
		u := term.Entity("User", "user-"+strconv.Itoa(k%users))
		return term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String("member"), org}}
	}
	u := term.Entity("User", "user-"+strconv.Itoa((k*31+j)%users))
	roles := [...]string{"reader", "maintainer", "admin"}
	return term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String(roles[j%3]), repo}}
}
