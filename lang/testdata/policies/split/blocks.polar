# A policy in several files: the blocks here, rules and tests in the
# other files.
actor User {}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "manage"];
  "read" if "member";
  "manage" if "admin";
  "member" if "admin";
}
