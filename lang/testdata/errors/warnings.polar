# Warnings never fail a load.
actor User {}
resource Repository {
  roles = ["reader", "ghost"]; # WARNING "role \"ghost\" of Repository is declared but never used"
  permissions = ["read", "fly"]; # WARNING "permission \"fly\" of Repository is never granted"
  "read" if "reader";
}

allow(user: User, "read", repo: Repository) if is_public(repo) and is_open(repo) or is_admin(user); # WARNING "`or` binds tighter than `and`"
allow(user: User, "read", repo: Repository) if is_public(repo) and (is_open(repo) or is_admin(user));
allow(user: User, "read", repo: Repository) if (is_public(repo) and is_open(repo)) or is_admin(user);
