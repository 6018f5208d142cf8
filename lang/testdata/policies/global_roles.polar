# Global roles: a role that holds everywhere, granted with a 2-argument
# has_role fact.
actor User {}

global {
  roles = ["superadmin", "support", "user"];
  permissions = ["create_organization", "view_audit_log"];

  "create_organization" if "user";
  "view_audit_log" if "support";
  "support" if "superadmin";
  "user" if "support";
}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "update", "delete"];

  "read" if "member";
  "update" if "admin";
  "delete" if "admin";
  "member" if "admin";

  "admin" if global "superadmin";
  "read" if global "support";
}

# Everybody is a user.
has_role(_: User, "user");

test "superadmins administer every organization" {
  setup {
    has_role(User{"root"}, "superadmin");
    has_role(User{"sam"}, "support");
  }
  assert allow(User{"root"}, "delete", Organization{"anything"});
  assert allow(User{"sam"}, "read", Organization{"acme"});
  assert_not allow(User{"sam"}, "update", Organization{"acme"});
  assert has_permission(User{"nobody"}, "create_organization");
  assert has_permission(User{"sam"}, "view_audit_log");
  assert_not has_permission(User{"nobody"}, "view_audit_log");
}
