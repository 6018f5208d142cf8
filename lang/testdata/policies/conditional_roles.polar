# ABAC conditional roles: a role that counts only while a condition holds.
actor User {}

resource Organization {
  roles = ["member", "billing_admin"];
  permissions = ["read", "view_invoices", "pay_invoices"];
  "read" if "member";
  "view_invoices" if "billing_admin";
}

# Billing admins may pay only while their account is verified and not
# suspended.
has_permission(user: User, "pay_invoices", org: Organization) if
  has_role(user, "billing_admin", org) and
  is_verified(user, true) and
  not is_suspended(user, true);

# Members of an active organization have the member role only while the
# organization's subscription status is one of the allowed ones.
has_role(user: User, "member", org: Organization) if
  has_membership(user, org) and
  subscription_status(org, status) and
  status in ["active", "trialing"];

test "conditional roles" {
  setup {
    has_membership(User{"mia"}, Organization{"acme"});
    subscription_status(Organization{"acme"}, "trialing");
    has_membership(User{"mia"}, Organization{"gone"});
    subscription_status(Organization{"gone"}, "cancelled");
    has_role(User{"ben"}, "billing_admin", Organization{"acme"});
    is_verified(User{"ben"}, true);
  }
  assert allow(User{"mia"}, "read", Organization{"acme"});
  assert_not allow(User{"mia"}, "read", Organization{"gone"});
  assert allow(User{"ben"}, "pay_invoices", Organization{"acme"});
}
