// The policy both SDK tests upload: organizations and repositories with
// roles, a parent relation, a hand-written rule over a Boolean fact, and a
// policy test.
export const POLICY = `
actor User {}

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

# Public repositories can be read by every user.
has_permission(_: User, "read", repo: Repository) if is_public(repo, true);

test "owners push to the repositories of their organization" {
  setup {
    has_role(User{"t"}, "owner", Organization{"o"});
    has_relation(Repository{"r"}, "parent", Organization{"o"});
  }
  assert allow(User{"t"}, "push", Repository{"r"});
  assert_not allow(User{"u"}, "push", Repository{"r"});
}
`;
