# A GitHub-like model: organizations own repositories, repositories hold
# issues. Members of an organization see its repositories; an issue's
# creator may close it.
actor User {}

resource Organization {
  roles = ["member", "billing", "admin"];
  permissions = ["read", "read_billing", "create_repository", "add_member"];

  "member" if "admin";
  "billing" if "admin";

  "read" if "member";
  "read_billing" if "billing";
  "create_repository" if "member";
  "add_member" if "admin";
}

resource Repository {
  roles = ["reader", "triager", "writer", "maintainer", "admin"];
  permissions = ["read", "triage", "push", "delete", "manage_settings", "create_issue"];
  relations = { organization: Organization };

  # Role hierarchy on the repository itself.
  "reader" if "triager";
  "triager" if "writer";
  "writer" if "maintainer";
  "maintainer" if "admin";

  # Organization roles flow down.
  "reader" if "member" on "organization";
  "admin" if "admin" on "organization";

  "read" if "reader";
  "triage" if "triager";
  "push" if "writer";
  "create_issue" if "reader";
  "delete" if "admin";
  "manage_settings" if "maintainer";
}

resource Issue {
  roles = ["assignee"];
  permissions = ["read", "comment", "close", "reopen"];
  relations = { repository: Repository, creator: User };

  "read" if "read" on "repository";
  "comment" if "read";
  "close" if "creator";
  "close" if "triage" on "repository";
  "close" if "assignee";
  "reopen" if "close";
}

# Public repositories are readable by anyone, but archived ones are read-only.
has_permission(_: User, "read", repo: Repository) if is_public(repo, true);
has_permission(user: User, "push", repo: Repository) if
  has_role(user, "writer", repo) and not is_archived(repo, true);

test "members read, only admins delete" {
  setup {
    has_role(User{"alice"}, "admin", Organization{"acme"});
    has_role(User{"bob"}, "member", Organization{"acme"});
    has_relation(Repository{"anvil"}, "organization", Organization{"acme"});
  }
  assert allow(User{"bob"}, "read", Repository{"anvil"});
  assert_not allow(User{"bob"}, "delete", Repository{"anvil"});
  assert allow(User{"alice"}, "delete", Repository{"anvil"});
}
