# ReBAC organization hierarchies: roles on a parent organization hold on
# every descendant, however deep.
actor User {}

resource Organization {
  roles = ["viewer", "admin"];
  permissions = ["read", "manage"];
  relations = { parent: Organization };

  "read" if "viewer";
  "manage" if "admin";
  "viewer" if "admin";

  "viewer" if "viewer" on "parent";
  "admin" if "admin" on "parent";
}

resource Team {
  roles = ["member"];
  permissions = ["read"];
  relations = { organization: Organization };

  "member" if "viewer" on "organization";
  "read" if "member";
}

test "admins of the root manage every descendant" {
  setup {
    has_role(User{"hal"}, "admin", Organization{"root"});
    has_relation(Organization{"emea"}, "parent", Organization{"root"});
    has_relation(Organization{"emea/fr"}, "parent", Organization{"emea"});
    has_relation(Team{"paris"}, "organization", Organization{"emea/fr"});
  }
  assert allow(User{"hal"}, "manage", Organization{"emea/fr"});
  assert allow(User{"hal"}, "read", Team{"paris"});
  assert_not allow(User{"hal"}, "manage", Organization{"apac"});
}
