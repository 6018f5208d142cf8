# Resource creation: creating a child is a permission on the parent, and
# bootstrapping root-level resources is a global permission.
actor User {}

global {
  roles = ["user"];
  permissions = ["create_organization"];
  "create_organization" if "user";
}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "create_project"];
  "read" if "member";
  "create_project" if "admin";
  "member" if "admin";
}

resource Project {
  roles = ["contributor"];
  permissions = ["read", "create_task"];
  relations = { organization: Organization };
  "contributor" if "member" on "organization";
  "read" if "contributor";
  "create_task" if "contributor";
}

has_role(_: User, "user");

test "anyone creates organizations, admins create projects" {
  setup {
    has_role(User{"amy"}, "admin", Organization{"acme"});
  }
  assert has_permission(User{"amy"}, "create_organization");
  assert allow(User{"amy"}, "create_project", Organization{"acme"});
  assert_not allow(User{"bo"}, "create_project", Organization{"acme"});
}
