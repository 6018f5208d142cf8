package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
)

// The load runs on the model every layer's benchmarks share:
// evaltest.GitHubPolicy with the facts of evaltest.GitHubFacts. Per
// organization that is 22 organization roles and 10 repositories of 9 facts
// each (organization relation, 4 roles, 2 issues with a creator): 112 facts.
const factsPerOrg = 22 + 10*9

// Roles as bits, so a user's roles on one resource are one byte.
const (
	roleMember uint8 = 1 << iota
	roleOwner
	roleReader
	roleMaintainer
	roleAdmin
)

var roleBits = map[string]uint8{
	"member": roleMember, "owner": roleOwner,
	"reader": roleReader, "maintainer": roleMaintainer, "admin": roleAdmin,
}

// grant is the roles a user (by number) holds on one resource.
type grant struct {
	user  int32
	roles uint8
}

// model is the generated data set, indexed so that the right answer to any
// check is known without asking the server: the oracle below is written
// from the policy's text, independently of the evaluator.
type model struct {
	facts []term.Fact
	orgs  int

	users, repoIDs, issueIDs []string // names by number
	orgRoles                 map[int32][]grant
	repoRoles                [][]grant
	repoOrg                  []int32 // -1 when none
	public                   []bool
	issueRepo, issueCreator  []int32
	byOrg                    map[int32][]int32 // repositories by organization (orgRepos)
}

// newModel generates evaltest.GitHubFacts for about nfacts facts (ten
// repositories per organization, at least one organization) and indexes it.
func newModel(seed uint64, nfacts int) (*model, error) {
	orgs := max(nfacts/factsPerOrg, 1)
	m := &model{facts: evaltest.GitHubFacts(seed, orgs, 10*orgs), orgs: orgs, orgRoles: make(map[int32][]grant)}
	var (
		users  = interner{names: &m.users}
		repos  = interner{names: &m.repoIDs}
		issues = interner{names: &m.issueIDs}
		orgIDs []string
		orgsIn = interner{names: &orgIDs}
	)
	repo := func(id string) int32 {
		n := repos.id(id)
		for int(n) >= len(m.repoOrg) {
			m.repoRoles = append(m.repoRoles, nil)
			m.repoOrg = append(m.repoOrg, -1)
			m.public = append(m.public, false)
		}
		return n
	}
	issue := func(id string) int32 {
		n := issues.id(id)
		for int(n) >= len(m.issueRepo) {
			m.issueRepo = append(m.issueRepo, -1)
			m.issueCreator = append(m.issueCreator, -1)
		}
		return n
	}
	for _, f := range m.facts {
		a := f.Args
		switch {
		case f.Predicate == "has_role" && len(a) == 3 && a[0].Type == "User" && a[2].Type == "Organization":
			o := orgsIn.id(a[2].ID)
			m.orgRoles[o] = addRole(m.orgRoles[o], users.id(a[0].ID), roleBits[a[1].ID])
		case f.Predicate == "has_role" && len(a) == 3 && a[0].Type == "User" && a[2].Type == "Repository":
			r := repo(a[2].ID)
			m.repoRoles[r] = addRole(m.repoRoles[r], users.id(a[0].ID), roleBits[a[1].ID])
		case f.Predicate == "has_relation" && len(a) == 3 && a[1].ID == "organization":
			m.repoOrg[repo(a[0].ID)] = orgsIn.id(a[2].ID)
		case f.Predicate == "has_relation" && len(a) == 3 && a[1].ID == "repository":
			m.issueRepo[issue(a[0].ID)] = repo(a[2].ID)
		case f.Predicate == "has_relation" && len(a) == 3 && a[1].ID == "creator":
			m.issueCreator[issue(a[0].ID)] = users.id(a[2].ID)
		case f.Predicate == "is_public" && len(a) == 1:
			m.public[repo(a[0].ID)] = true
		default:
			return nil, fmt.Errorf("the load's oracle does not know the fact %s: update cmd/castellan-load/model.go with evaltest", f)
		}
	}
	if len(m.repoIDs) == 0 || len(m.users) == 0 {
		return nil, fmt.Errorf("model of %d facts has no repositories or users", len(m.facts))
	}
	return m, nil
}

// interner numbers names in order of first appearance.
type interner struct {
	names *[]string
	ids   map[string]int32
}

func (in *interner) id(name string) int32 {
	if in.ids == nil {
		in.ids = make(map[string]int32)
	}
	n, ok := in.ids[name]
	if !ok {
		n = int32(len(*in.names))
		in.ids[name] = n
		*in.names = append(*in.names, name)
	}
	return n
}

func addRole(gs []grant, user int32, role uint8) []grant {
	for i := range gs {
		if gs[i].user == user {
			gs[i].roles |= role
			return gs
		}
	}
	return append(gs, grant{user: user, roles: role})
}

func rolesOf(gs []grant, user int32) uint8 {
	for _, g := range gs {
		if g.user == user {
			return g.roles
		}
	}
	return 0
}

// repoRolesOf returns the roles user holds on repository r, direct or
// implied, as evaltest.GitHubPolicy defines them.
func (m *model) repoRolesOf(user, r int32) uint8 {
	roles := rolesOf(m.repoRoles[r], user)
	if o := m.repoOrg[r]; o >= 0 {
		org := rolesOf(m.orgRoles[o], user)
		if org&roleOwner != 0 {
			roles |= roleAdmin // "admin" if "owner" on "organization"
		}
		if org&(roleOwner|roleMember) != 0 {
			roles |= roleReader // "reader" if "member" on "organization" ("member" if "owner")
		}
	}
	if roles&roleAdmin != 0 {
		roles |= roleMaintainer
	}
	if roles&roleMaintainer != 0 {
		roles |= roleReader
	}
	return roles
}

// repoAllowed is the oracle for a check on repository r.
func (m *model) repoAllowed(user int32, action string, r int32) bool {
	roles := m.repoRolesOf(user, r)
	switch action {
	case "read":
		return roles&roleReader != 0 || m.public[r]
	case "create_issue":
		return roles&roleReader != 0
	case "push":
		return roles&roleMaintainer != 0
	case "delete":
		return roles&roleAdmin != 0
	}
	return false
}

// issueAllowed is the oracle for a check on issue i.
func (m *model) issueAllowed(user int32, action string, i int32) bool {
	r := m.issueRepo[i]
	switch action {
	case "read":
		return r >= 0 && m.repoAllowed(user, "read", r)
	case "close":
		return m.issueCreator[i] == user || (r >= 0 && m.repoAllowed(user, "push", r))
	}
	return false
}

// clientFact is f as the Go client sends it.
func clientFact(f term.Fact) castellan.Fact {
	args := make([]castellan.Value, len(f.Args))
	for i, a := range f.Args {
		args[i] = castellan.Value{Type: a.Type, ID: a.ID}
	}
	return castellan.NewFact(f.Predicate, args...)
}

// check is one prepared authorize request and its right answer. The body
// is encoded once, here, and sent by the driver through a bare http.Client
// rather than clients/go: the load generator's own cost per request (no
// JSON encoding, no request id, reused buffers) must stay small and the
// same for castellan and the no-op baseline, which the comparison measures.
type check struct {
	body    []byte
	allowed bool

	// The question itself, for the batch modes (batch.go).
	user           int32 // by number
	action         string
	resType, resID string
	res            int32 // the repository's or issue's number
}

// checks returns n authorize requests drawn from the model. Four in five
// are on a repository (read 50%, push 25%, create_issue 15%, delete 10%), one
// in five on an issue (read or close), a three-hop derivation. With
// probability related the user holds a role on the repository or on its
// organization (or created the issue), so the answer is often allowed;
// otherwise the user is drawn from all users and almost always denied.
func (m *model) checks(seed uint64, n int, related float64) []check {
	rng := rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	cs := make([]check, n)
	for i := range cs {
		onIssue := len(m.issueIDs) > 0 && rng.IntN(5) == 0
		var r, is int32
		if onIssue {
			is = int32(rng.IntN(len(m.issueIDs)))
			r = max(m.issueRepo[is], 0)
		} else {
			r = int32(rng.IntN(len(m.repoIDs)))
		}
		user := int32(rng.IntN(len(m.users)))
		if rng.Float64() < related {
			candidates := m.repoRoles[r]
			if o := m.repoOrg[r]; o >= 0 && rng.IntN(2) == 0 {
				candidates = m.orgRoles[o]
			}
			switch {
			case onIssue && rng.IntN(3) == 0 && m.issueCreator[is] >= 0:
				user = m.issueCreator[is]
			case len(candidates) > 0:
				user = candidates[rng.IntN(len(candidates))].user
			}
		}
		var action, typ, id string
		var allowed bool
		if onIssue {
			action, typ, id = "read", "Issue", m.issueIDs[is]
			if rng.IntN(2) == 0 {
				action = "close"
			}
			allowed = m.issueAllowed(user, action, is)
		} else {
			switch p := rng.IntN(20); {
			case p < 10:
				action = "read"
			case p < 15:
				action = "push"
			case p < 18:
				action = "create_issue"
			default:
				action = "delete"
			}
			typ, id = "Repository", m.repoIDs[r]
			allowed = m.repoAllowed(user, action, r)
		}
		res := r
		if onIssue {
			res = is
		}
		cs[i] = check{
			body: fmt.Appendf(nil,
				`{"actor_type":"User","actor_id":%q,"action":%q,"resource_type":%q,"resource_id":%q,"context_facts":[]}`,
				m.users[user], action, typ, id),
			allowed: allowed,
			user:    user, action: action, resType: typ, resID: id, res: res,
		}
	}
	return cs
}

// writeModel writes the model's facts to cfg.writeFacts as JSON Lines (the
// wire format castellan import reads) and its policy next to it.
func writeModel(cfg *config, stdout io.Writer) error {
	m, err := newModel(cfg.seed, cfg.facts)
	if err != nil {
		return err
	}
	f, err := os.Create(cfg.writeFacts)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, fact := range m.facts {
		b, err := json.Marshal(clientFact(fact))
		if err != nil {
			f.Close()
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.writeFacts+".polar", []byte(evaltest.GitHubPolicy), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d facts to %s and the policy to %s.polar\n", len(m.facts), cfg.writeFacts, cfg.writeFacts)
	return nil
}
