# ReBAC impersonation: support staff may act as a user who allowed it, and
# then hold that user's permissions (but may not impersonate further).
actor User {
  permissions = ["impersonate"];
  relations = { allowed_impersonator: User };

  "impersonate" if "allowed_impersonator";
}

global {
  roles = ["support"];
}

resource Organization {
  roles = ["member"];
  permissions = ["read", "update"];
  "read" if "member";
  "update" if "member";
}

# An impersonator gets every permission of the user they impersonate,
# except impersonating someone else.
has_permission(actor: User, action: String, resource: Resource) if
  action != "impersonate" and
  is_impersonating(actor, user) and
  has_role(actor, "support") and
  has_permission(actor, "impersonate", user) and
  has_permission(user, action, resource);

test "support staff impersonate users who allowed it" {
  setup {
    has_role(User{"sue"}, "support");
    has_relation(User{"ivan"}, "allowed_impersonator", User{"sue"});
    is_impersonating(User{"sue"}, User{"ivan"});
    has_role(User{"ivan"}, "member", Organization{"acme"});
  }
  assert allow(User{"sue"}, "update", Organization{"acme"});
  assert_not allow(User{"sue"}, "update", Organization{"other"});
}
