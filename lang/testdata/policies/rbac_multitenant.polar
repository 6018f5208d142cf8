# RBAC, multitenant roles: every role is scoped to an organization.
actor User {}

resource Organization {
  roles = ["viewer", "member", "admin"];
  permissions = ["read", "update", "delete", "invite_member", "view_billing"];

  "read" if "viewer";
  "viewer" if "member";
  "invite_member" if "member";
  "member" if "admin";
  "update" if "admin";
  "delete" if "admin";
  "view_billing" if "admin";
}

test "admins inherit member permissions" {
  setup {
    has_role(User{"alice"}, "admin", Organization{"acme"});
    has_role(User{"bob"}, "member", Organization{"acme"});
  }
  assert allow(User{"alice"}, "invite_member", Organization{"acme"});
  assert allow(User{"bob"}, "read", Organization{"acme"});
  assert_not allow(User{"bob"}, "delete", Organization{"acme"});
  assert_not allow(User{"alice"}, "read", Organization{"globex"});
}
