package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// githubPolicy is the GitHub-like model the load is generated for:
// organizations with members and owners, repositories in organizations with
// readers and maintainers, roles inherited from the parent organization.
// Checking read on a repository through an organization membership is a
// two-hop derivation (has_relation, then has_role on the organization).
const githubPolicy = `actor User {}

resource Organization {
  roles = ["member", "owner"];
  permissions = ["read", "create_repository", "delete"];

  "member" if "owner";
  "read" if "member";
  "create_repository" if "owner";
  "delete" if "owner";
}

resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "push", "delete"];
  relations = { parent: Organization };

  "reader" if "maintainer";
  "reader" if "member" on "parent";
  "maintainer" if "owner" on "parent";

  "read" if "reader";
  "push" if "maintainer";
  "delete" if "maintainer";
}
`

// Shape of the generated model, per 1,000,000 facts: 10,000 organizations
// with 30 roles each (1 owner, 29 members), 100,000 repositories with one
// parent relation and 6 direct roles each (2 maintainers, 4 readers), and
// 50,000 users.
const (
	factsPerOrg     = 100 // facts / orgs
	reposPerOrg     = 10
	orgRolesPerOrg  = 30
	repoRolesPerRep = 6
	maintainersPer  = 2
	usersPerRepo    = 2 // repos / users
)

// grant is a role held by a user (by index) on an organization or repository.
type grant struct {
	user int32
	role string
}

// fact is a fact in the wire shape of the Oso Cloud API.
type fact struct {
	Predicate string  `json:"predicate"`
	Args      []value `json:"args"`
}

// value is a typed value in the wire shape of the Oso Cloud API.
type value struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// model is a generated data set together with what is needed to know the
// right answer to any check against it.
type model struct {
	orgs, repos, users int
	orgRoles           [][]grant // by organization
	repoRoles          [][]grant // by repository
	parent             []int32   // organization of each repository
}

// newModel generates a deterministic GitHub-like model of about nfacts facts
// (at least one organization) from seed.
func newModel(seed uint64, nfacts int) *model {
	orgs := max(nfacts/factsPerOrg, 1)
	m := &model{
		orgs:      orgs,
		repos:     orgs * reposPerOrg,
		users:     max(orgs*reposPerOrg/usersPerRepo, orgRolesPerOrg),
		orgRoles:  make([][]grant, orgs),
		repoRoles: make([][]grant, orgs*reposPerOrg),
		parent:    make([]int32, orgs*reposPerOrg),
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for o := range m.orgs {
		m.orgRoles[o] = m.pickUsers(rng, orgRolesPerOrg, func(i int) string {
			if i == 0 {
				return "owner"
			}
			return "member"
		})
	}
	for r := range m.repos {
		m.parent[r] = int32(rng.IntN(m.orgs))
		m.repoRoles[r] = m.pickUsers(rng, repoRolesPerRep, func(i int) string {
			if i < maintainersPer {
				return "maintainer"
			}
			return "reader"
		})
	}
	return m
}

// pickUsers returns n grants to distinct users, the i-th with role(i).
func (m *model) pickUsers(rng *rand.Rand, n int, role func(int) string) []grant {
	gs := make([]grant, 0, n)
	for len(gs) < n {
		u := int32(rng.IntN(m.users))
		dup := false
		for _, g := range gs {
			dup = dup || g.user == u
		}
		if !dup {
			gs = append(gs, grant{user: u, role: role(len(gs))})
		}
	}
	return gs
}

func userID(u int32) string { return "u" + strconv.Itoa(int(u)) }
func orgID(o int32) string  { return "o" + strconv.Itoa(int(o)) }
func repoID(r int32) string { return "r" + strconv.Itoa(int(r)) }

// numFacts returns how many facts the model holds.
func (m *model) numFacts() int {
	return m.orgs*orgRolesPerOrg + m.repos*(1+repoRolesPerRep)
}

// facts calls yield with every fact of the model, in a fixed order, until
// yield returns false.
func (m *model) facts(yield func(fact) bool) {
	for o, gs := range m.orgRoles {
		for _, g := range gs {
			if !yield(hasRole(userID(g.user), g.role, value{"Organization", orgID(int32(o))})) {
				return
			}
		}
	}
	for r, gs := range m.repoRoles {
		repo := value{"Repository", repoID(int32(r))}
		if !yield(fact{"has_relation", []value{repo, {"String", "parent"}, {"Organization", orgID(m.parent[r])}}}) {
			return
		}
		for _, g := range gs {
			if !yield(hasRole(userID(g.user), g.role, repo)) {
				return
			}
		}
	}
}

func hasRole(user, role string, on value) fact {
	return fact{"has_role", []value{{"User", user}, {"String", role}, on}}
}

// actions are the repository permissions checks ask about.
var actions = [...]string{"read", "push", "delete"}

// allowed is the oracle: whether githubPolicy allows user to do action on
// repository r given the model's facts.
func (m *model) allowed(user int32, action string, r int32) bool {
	var repoRole, orgRole string
	for _, g := range m.repoRoles[r] {
		if g.user == user {
			repoRole = g.role
		}
	}
	for _, g := range m.orgRoles[m.parent[r]] {
		if g.user == user {
			orgRole = g.role
		}
	}
	maintainer := repoRole == "maintainer" || orgRole == "owner"
	switch action {
	case "read":
		return maintainer || repoRole == "reader" || orgRole == "member"
	case "push", "delete":
		return maintainer
	}
	return false
}

// check is one prepared authorize request and its right answer.
type check struct {
	body    []byte
	allowed bool
}

// checks returns n authorize requests drawn from the model: with
// probability related the user holds a role on the repository or on its
// organization (so the answer is often, not always, allowed), otherwise the
// user is drawn from all users (almost always denied). The action is one of
// read, push and delete.
func (m *model) checks(seed uint64, n int, related float64) []check {
	rng := rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	cs := make([]check, n)
	for i := range cs {
		r := int32(rng.IntN(m.repos))
		var u int32
		if rng.Float64() < related {
			gs := m.repoRoles[r]
			if rng.IntN(2) == 0 {
				gs = m.orgRoles[m.parent[r]]
			}
			u = gs[rng.IntN(len(gs))].user
		} else {
			u = int32(rng.IntN(m.users))
		}
		action := actions[rng.IntN(len(actions))]
		cs[i] = check{
			body: fmt.Appendf(nil,
				`{"actor_type":"User","actor_id":%q,"action":%q,"resource_type":"Repository","resource_id":%q,"context_facts":[]}`,
				userID(u), action, repoID(r)),
			allowed: m.allowed(u, action, r),
		}
	}
	return cs
}
