# Custom roles: end users define roles (Role values, no block) and grant
# permissions to them with facts.
actor User {}

resource Organization {
  roles = ["admin", "member"];
  permissions = ["read", "create_repository", "manage_roles", "delete_repository"];

  "read" if "member";
  "member" if "admin";
  "manage_roles" if "admin";
  "create_repository" if "admin";
  "delete_repository" if "admin";
}

resource Repository {
  permissions = ["read", "delete"];
  relations = { organization: Organization };

  "read" if "read" on "organization";
  "delete" if "delete_repository" on "organization";
}

# A custom role grants the permissions recorded for it.
has_permission(user: User, action: String, org: Organization) if
  role matches Role and
  has_role(user, role, org) and
  grants_permission(role, action);

test "custom roles grant their permissions" {
  setup {
    has_role(User{"rita"}, Role{"release-manager"}, Organization{"acme"});
    grants_permission(Role{"release-manager"}, "create_repository");
    grants_permission(Role{"release-manager"}, "delete_repository");
    has_relation(Repository{"anvil"}, "organization", Organization{"acme"});
  }
  assert allow(User{"rita"}, "create_repository", Organization{"acme"});
  assert allow(User{"rita"}, "delete", Repository{"anvil"});
  assert_not allow(User{"rita"}, "manage_roles", Organization{"acme"});
}
