# ReBAC patterns: user groups, organization hierarchies, impersonation.
actor User {}
actor Group {}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "manage"];
  relations = { parent: Organization };

  role if role on "parent";
  "member" if "admin";
  "read" if "member";
  "manage" if "admin";
}

# Groups in groups: membership is transitive.
in_group(user: User, group: Group) if has_group(user, group);
in_group(user: User, group: Group) if
  has_group(user, parent) and group_in_group(parent, group);

has_role(user: User, role: String, org: Organization) if
  in_group(user, group) and has_role(group, role, org);

# Support staff may act as a user they are helping, for reading only.
has_permission(support: User, "read", org: Organization) if
  impersonating(support, user) and
  has_permission(user, "read", org);

test "group roles apply to members" {
  setup {
    has_group(User{"alice"}, Group{"eng"});
    group_in_group(Group{"eng"}, Group{"staff"});
    has_role(Group{"staff"}, "member", Organization{"acme"});
  }
  assert allow(User{"alice"}, "read", Organization{"acme"});
  assert_not allow(User{"alice"}, "manage", Organization{"acme"});
}
