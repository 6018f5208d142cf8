# RBAC patterns: multitenant roles, resource-specific roles, role
# inheritance, ownership and sharing.
actor User {}

resource Organization {
  roles = ["admin", "member"];
  permissions = ["read", "add_member", "create_repository", "delete"];

  "member" if "admin";
  "read" if "member";
  "create_repository" if "member";
  "add_member" if "admin";
  "delete" if "admin";
}

resource Repository extends Resource {
  roles = ["viewer", "editor", "owner"];
  permissions = ["read", "write", "share", "delete"];
  relations = { organization: Organization, owner: User };

  "viewer" if "editor";
  "editor" if "owner";
  "owner" if "owner";          # the owning user relation grants the owner role
  "viewer" if "member" on "organization";
  "owner" if "admin" on "organization";

  "read" if "viewer";
  "write" if "editor";
  "share" if "owner";
  "delete" if "owner";
}

# Sharing: an invite gives a role on one repository.
has_role(user: User, role: String, repo: Repository) if
  invited(user, role, repo) and role in ["viewer", "editor"];
