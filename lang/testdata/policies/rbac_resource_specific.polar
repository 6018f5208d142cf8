# RBAC with resource-specific roles: repository roles next to
# organization roles, organization roles implying repository roles.
actor User {}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "create_repository"];

  "read" if "member";
  "create_repository" if "member";
  "member" if "admin";
}

resource Repository {
  roles = ["reader", "writer", "admin"];
  permissions = ["read", "write", "delete", "manage_collaborators"];
  relations = { organization: Organization };

  "read" if "reader";
  "write" if "writer";
  "delete" if "admin";
  "manage_collaborators" if "admin";

  "reader" if "writer";
  "writer" if "admin";

  "reader" if "member" on "organization";
  "admin" if "admin" on "organization";
}

test "repository roles come from the organization too" {
  setup {
    has_role(User{"alice"}, "admin", Organization{"acme"});
    has_role(User{"bob"}, "writer", Repository{"anvil"});
    has_relation(Repository{"anvil"}, "organization", Organization{"acme"});
  }
  assert allow(User{"alice"}, "delete", Repository{"anvil"});
  assert allow(User{"bob"}, "write", Repository{"anvil"});
  assert_not allow(User{"bob"}, "delete", Repository{"anvil"});
  assert allow(User{"bob"}, action: String, Repository{"anvil"}) iff action in ["read", "write"];
}
