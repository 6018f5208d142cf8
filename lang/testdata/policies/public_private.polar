# ABAC public and private resources: a Boolean attribute stored as a fact.
actor User {}

resource Organization {
  roles = ["member"];
  permissions = ["read"];
  "read" if "member";
}

resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "write", "fork"];
  relations = { organization: Organization };

  # Shorthand rules with a condition over actor and resource, as in Oso's
  # public/private guide.
  "fork" if is_public(resource, true) and not is_banned(actor);
  "fork" if "reader";

  "read" if "reader";
  "write" if "maintainer";
  "reader" if "maintainer";
  "reader" if "member" on "organization";
}

# Anyone may read a public repository.
has_permission(_: User, "read", repo: Repository) if
  is_public(repo, true);

# Archived repositories are read-only, whatever the role.
has_permission(user: User, "write", repo: Repository) if
  has_role(user, "maintainer", repo) and
  not is_archived(repo, true);

test "public repositories" {
  setup {
    is_public(Repository{"oss"}, true);
    is_public(Repository{"secret"}, false);
  }
  assert allow(User{"anyone"}, "read", Repository{"oss"});
  assert_not allow(User{"anyone"}, "read", Repository{"secret"});
  assert allow(User{"anyone"}, "fork", Repository{"oss"});
}
