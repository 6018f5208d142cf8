# Custom roles: end users define roles as sets of permissions, stored as
# facts, so the policy grants whatever a role's grants say.
actor User {}
resource Role {}

resource Organization {
  roles = ["admin", "member"];
  permissions = [
    "read", "add_member", "repository.create",
    "repository.read", "repository.delete",
  ];

  "member" if "admin";
  "read" if "member";
  "add_member" if "admin";
  "repository.create" if "admin";
}

has_permission(actor: Actor, action: String, org: Organization) if
  role matches Role and
  has_role(actor, role, org) and
  grants_permission(role, action);

resource Repository {
  roles = ["member", "admin"];
  permissions = ["read", "delete"];
  relations = { organization: Organization };

  role if role on "organization";
  "member" if "admin";
  "read" if "member";
  "delete" if "admin";
  "read" if "repository.read" on "organization";
  "delete" if "repository.delete" on "organization";
}

test "a custom role grants what it is given" {
  setup {
    grants_permission(Role{"repo-admin"}, "repository.read");
    grants_permission(Role{"repo-admin"}, "repository.delete");
    has_role(User{"alice"}, Role{"repo-admin"}, Organization{"acme"});
    has_relation(Repository{"anvil"}, "organization", Organization{"acme"});
  }
  assert allow(User{"alice"}, "delete", Repository{"anvil"});
  assert has_permission(User{"alice"}, action: String, Repository{"anvil"}) iff action in ["read", "delete"];
  assert has_permission(User{"alice"}, action: String, Organization{"acme"}) iff action not in ["add_member", "read", "repository.create"];
}
