# ABAC entitlements with declared fact types and rules without bodies that
# act as data: plans have quotas per feature, organizations use them, and a
# plan's subscriber is anyone with any role on the subscribed organization.
actor User {}

resource Organization {
  roles = ["admin", "member"];
  permissions = ["create_repository"];

  "member" if "admin";
}

resource Plan {
  roles = ["subscriber"];
  relations = { subscribed_organization: Organization };

  "subscriber" if role on "subscribed_organization";
}

resource Feature {
  relations = { plan: Plan };
}

declare plan_quota(Plan, Feature, Integer);
declare quota_used(Organization, Feature, Integer);

plan_quota(Plan{"pro"}, Feature{"repository"}, 10);
plan_quota(Plan{"basic"}, Feature{"repository"}, 0);

has_quota_remaining(org: Organization, feature: Feature) if
  has_quota(org, feature, quota) and
  quota_used(org, feature, used) and
  used < quota;

has_quota(org: Organization, feature: Feature, quota: Integer) if
  plan matches Plan and
  has_relation(plan, "subscribed_organization", org) and
  plan_quota(plan, feature, quota);

has_permission(user: User, "create_repository", org: Organization) if
  has_role(user, "member", org) and
  has_quota_remaining(org, Feature{"repository"});

test "members create repositories while the plan has quota" {
  setup {
    quota_used(Organization{"acme"}, Feature{"repository"}, 5);
    quota_used(Organization{"full"}, Feature{"repository"}, 10);
    has_relation(Plan{"pro"}, "subscribed_organization", Organization{"acme"});
    has_relation(Plan{"pro"}, "subscribed_organization", Organization{"full"});
    has_role(User{"alice"}, "member", Organization{"acme"});
    has_role(User{"bob"}, "member", Organization{"full"});
  }
  assert allow(User{"alice"}, "create_repository", Organization{"acme"});
  assert_not allow(User{"bob"}, "create_repository", Organization{"full"});
  assert has_role(User{"alice"}, "subscriber", Plan{"pro"});
}
