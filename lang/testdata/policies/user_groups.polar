# ReBAC user groups: groups hold roles, users get the roles of their
# groups, and groups nest.
actor User {}
actor Group {}

resource Organization {
  roles = ["viewer", "admin"];
  permissions = ["read", "administer"];
  "read" if "viewer";
  "administer" if "admin";
  "viewer" if "admin";
}

resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "push"];
  relations = { organization: Organization };
  "read" if "reader";
  "push" if "maintainer";
  "reader" if "maintainer";
  "reader" if "viewer" on "organization";
}

# Users inherit the roles of the groups they belong to.
has_role(user: User, role: String, resource: Resource) if
  group matches Group and
  has_group(user, group) and
  has_role(group, role, resource);

# Groups nest: members of a subgroup are members of its parents.
has_group(user: User, group: Group) if
  subgroup matches Group and
  has_group(user, subgroup) and
  has_group(subgroup, group);

test "nested groups" {
  setup {
    has_group(User{"ann"}, Group{"frontend"});
    has_group(Group{"frontend"}, Group{"engineering"});
    has_role(Group{"engineering"}, "maintainer", Repository{"web"});
  }
  assert allow(User{"ann"}, "push", Repository{"web"});
  assert_not allow(User{"ann"}, "push", Repository{"api"});
}
