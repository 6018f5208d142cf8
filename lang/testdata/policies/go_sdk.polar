# The shape of the policies the Go SDK's integration tests load: global
# roles, recursive folders, role propagation, declared fact types.
actor User {}

global {
  roles = ["admin", "user"];
  permissions = ["create_repository"];
  "create_repository" if "user";
}

resource Organization {
  roles = ["member", "owner",];
  permissions = ["read", "create_repository"];
  "read" if "member";
  "member" if "owner";
  "create_repository" if "owner";
}

resource Repository {
  roles = ["member", "owner"];
  permissions = ["read", "write"];
  relations = { parent: Organization };
  role if role on "parent";
  "read" if "member";
  "write" if "owner";
  "member" if "owner";
  "read" if global "admin";
}

resource Folder {
  permissions = ["read"];
  relations = { parent: Folder, owner: User };
  "read" if "owner";
  "read" if "read" on "parent";
}

has_role(_: User, "user");

allow_field(user: User, "read", repo: Repository, Field{"name"}) if
  has_permission(user, "read", repo);

declare is_weird(Integer, String, Boolean);
