package evaltest

import (
	"math/rand/v2"
	"strconv"

	"github.com/castellan-authz/castellan/lang/term"
)

// FolderResource is a resource block of folders in folders: a role on a
// folder holds on every folder below it (`role if role on "parent"`).
const FolderResource = `resource Folder {
  roles = ["viewer"];
  permissions = ["read"];
  relations = { parent: Folder };
  role if role on "parent";
  "read" if "viewer";
}
`

// FolderPolicy is FolderResource with its actor type, User.
const FolderPolicy = "actor User {}\n" + FolderResource

// FolderChain returns a chain of n+1 folders "0" to "n", each the parent
// of the next, and makes viewer a viewer of the root, "0": viewer reads
// folder n through n nested parents.
func FolderChain(n int, viewer term.Value) []term.Fact {
	id := func(i int) term.Value { return term.Entity("Folder", strconv.Itoa(i)) }
	fs := []term.Fact{{Predicate: "has_role", Args: []term.Value{viewer, term.String("viewer"), id(0)}}}
	for i := 1; i <= n; i++ {
		fs = append(fs, term.Fact{Predicate: "has_relation", Args: []term.Value{id(i), term.String("parent"), id(i - 1)}})
	}
	return fs
}

// GitHubPolicy is the benchmark model: organizations with members and
// owners, repositories in organizations with readers, maintainers and
// admins (inherited from the organization), issues in repositories, and
// global admins.
const GitHubPolicy = `actor User {}

global {
  roles = ["admin"];
}

resource Organization {
  roles = ["member", "owner"];
  permissions = ["read", "create_repository", "delete"];

  "member" if "owner";
  "read" if "member";
  "create_repository" if "member";
  "delete" if "owner";
  "owner" if global "admin";
}

resource Repository {
  roles = ["reader", "maintainer", "admin"];
  permissions = ["read", "push", "delete", "create_issue"];
  relations = { organization: Organization };

  "reader" if "maintainer";
  "maintainer" if "admin";
  "reader" if "member" on "organization";
  "admin" if "owner" on "organization";

  "read" if "reader";
  "create_issue" if "reader";
  "push" if "maintainer";
  "delete" if "admin";
}

resource Issue {
  permissions = ["read", "close"];
  relations = { repository: Repository, creator: User };

  "read" if "read" on "repository";
  "close" if "push" on "repository";
  "close" if "creator";
}

has_permission(_: Actor, "read", repo: Repository) if is_public(repo);

declare is_public(Repository);
`

// OrgID is the id of the i-th generated organization.
func OrgID(i int) string { return "o" + strconv.Itoa(i) }

// RepoID is the id of the i-th generated repository.
func RepoID(i int) string { return "r" + strconv.Itoa(i) }

// UserID is the id of the i-th generated user.
func UserID(i int) string { return "u" + strconv.Itoa(i) }

// PowerUser is the id of a user who is a member of the first 90
// organizations: with 10 repositories per organization and one public
// repository in 1,000 (none in those organizations), they can read 1,000
// of 100,000 repositories.
const PowerUser = "power"

// GitHubFacts generates a deterministic fact set for GitHubPolicy: orgs
// organizations and repos repositories spread evenly over them (each
// repository i belongs to organization i % orgs). Users: each organization
// has 2 owners and 20 members drawn from a pool of 10*orgs users; every
// repository has 2 readers, 1 maintainer and 1 admin drawn from the same
// pool and 2 issues with a creator; one repository in 1,000 is public
// (repository i with i % 1000 == 500). PowerUser is a member of the first
// 90 organizations. With orgs = 10,000 and repos = 100,000 that is about
// 1.2 million facts.
func GitHubFacts(seed uint64, orgs, repos int) []term.Fact {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	users := 10 * orgs
	user := func() term.Value { return term.Entity("User", UserID(r.IntN(users))) }
	role := func(u term.Value, name string, res term.Value) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String(name), res}}
	}
	rel := func(sub term.Value, name string, obj term.Value) term.Fact {
		return term.Fact{Predicate: "has_relation", Args: []term.Value{sub, term.String(name), obj}}
	}
	facts := make([]term.Fact, 0, orgs*22+repos*9)
	for i := range orgs {
		org := term.Entity("Organization", OrgID(i))
		for range 2 {
			facts = append(facts, role(user(), "owner", org))
		}
		for range 20 {
			facts = append(facts, role(user(), "member", org))
		}
	}
	for i := range min(90, orgs) {
		facts = append(facts, role(term.Entity("User", PowerUser), "member", term.Entity("Organization", OrgID(i))))
	}
	for i := range repos {
		repo := term.Entity("Repository", RepoID(i))
		facts = append(facts, rel(repo, "organization", term.Entity("Organization", OrgID(i%orgs))))
		facts = append(facts, role(user(), "reader", repo), role(user(), "reader", repo),
			role(user(), "maintainer", repo), role(user(), "admin", repo))
		for k := range 2 {
			issue := term.Entity("Issue", RepoID(i)+"-"+strconv.Itoa(k))
			facts = append(facts, rel(issue, "repository", repo), rel(issue, "creator", user()))
		}
		if i%1000 == 500 {
			facts = append(facts, term.Fact{Predicate: "is_public", Args: []term.Value{repo}})
		}
	}
	return facts
}
