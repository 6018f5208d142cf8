# ABAC patterns: public resources, conditional roles, time-based checks and
# entitlements, all as facts about the values.
actor User {}

resource Repository {
  roles = ["member"];
  permissions = ["read", "write"];

  "read" if "member";
  "write" if "member";
  # Public/private, as a shorthand condition over actor and resource.
  "read" if is_public(resource, true);
}

# The same condition as a full rule.
has_permission(_: Actor, "read", repo: Repository) if is_public(repo, true);

# Time-based: a role with an expiry, in seconds since the epoch.
has_role(actor: Actor, role: String, repo: Repository) if
  expiration matches Integer and
  has_role_with_expiry(actor, role, repo, expiration) and
  expiration > @current_unix_time;

# Conditional role: members write only while the repository is not locked
# and their plan allows it.
has_permission(user: User, "write", repo: Repository) if
  has_role(user, "member", repo) and
  not is_locked(repo, true) and
  (has_plan(user, "pro") or has_plan(user, "enterprise"));

# Entitlements: a quota compared with a usage count.
allowed_repositories(user: User, quota: Integer) if
  has_plan(user, plan) and plan_quota(plan, quota) and quota >= 0;

declare has_plan(User, String);
declare plan_quota(String, Integer);

test "expired roles no longer grant" {
  setup {
    has_role_with_expiry(User{"alice"}, "member", Repository{"anvil"}, 4102444800);
    has_role_with_expiry(User{"bob"}, "member", Repository{"anvil"}, 1655758135);
    is_public(Repository{"site"}, true);
  }
  assert allow(User{"alice"}, "read", Repository{"anvil"});
  assert_not allow(User{"bob"}, "read", Repository{"anvil"});
  assert allow(User{"bob"}, "read", Repository{"site"});
}
