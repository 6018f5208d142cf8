# Global roles: an admin of the whole application.
actor User {}

global {
  roles = ["admin", "support"];
  permissions = ["create_organization", "impersonate"];

  "support" if "admin";
  "create_organization" if "admin";
  "impersonate" if "support";
}

resource Organization {
  roles = ["member"];
  permissions = ["read", "delete"];

  "read" if "member";
  "read" if global "support";
  "delete" if global "admin";
}

has_role(user: User, "admin") if is_superuser(user, true);
