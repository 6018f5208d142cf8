# ABAC entitlements: what an organization may do depends on its plan and
# on its usage quota.
actor User {}

resource Plan {
  roles = ["subscriber"];
  permissions = ["use_sso", "create_repository"];
  "use_sso" if "subscriber";
  "create_repository" if "subscriber";
}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "create_repository", "configure_sso"];
  relations = { plan: Plan };

  "read" if "member";
  "member" if "admin";
}

# Admins may configure SSO only when the plan includes it.
has_permission(user: User, "configure_sso", org: Organization) if
  has_role(user, "admin", org) and
  plan matches Plan and
  has_relation(org, "plan", plan) and
  plan_feature(plan, "sso");

# Members may create repositories while under the plan's quota.
has_permission(user: User, "create_repository", org: Organization) if
  has_role(user, "member", org) and
  plan matches Plan and
  has_relation(org, "plan", plan) and
  quota(plan, "repositories", limit) and
  repository_count(org, count) and
  count < limit;

test "quota" {
  setup {
    has_role(User{"kim"}, "member", Organization{"acme"});
    has_relation(Organization{"acme"}, "plan", Plan{"pro"});
    quota(Plan{"pro"}, "repositories", 10);
    repository_count(Organization{"acme"}, 3);
  }
  assert allow(User{"kim"}, "create_repository", Organization{"acme"});
  assert_not allow(User{"kim"}, "configure_sso", Organization{"acme"});
}
