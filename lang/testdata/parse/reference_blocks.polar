# The resource blocks of the compatibility reference (section 1.4).
actor User {}

resource Organization {
  roles = ["viewer", "owner"];
  permissions = ["view", "edit"];
  "view" if "viewer";          # permission if role
  "edit" if "owner";
  "viewer" if "owner";         # role implies role
}

resource Repository {
  roles = ["viewer", "owner"];
  permissions = ["view", "create", "read"];
  relations = { parent: Organization };
  "view" if "viewer";
  "viewer" if "viewer" on "parent";   # role on related resource
  "create" if "owner";
  "read" if global "admin";            # global role (needs global block)
  role if role on "parent";            # unquoted: inherit every role from parent
}

global {
  roles = ["admin", "user"];
  permissions = ["create_repository"];
  "create_repository" if "user";
}

has_role(_: User, "user");
