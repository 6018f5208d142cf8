# Inherited roles: every role on a parent applies to its children.
actor User {}

resource Organization {
  roles = ["viewer", "editor", "owner"];
  permissions = ["read", "edit", "delete"];

  "read" if "viewer";
  "edit" if "editor";
  "delete" if "owner";
  "viewer" if "editor";
  "editor" if "owner";
}

resource Project {
  roles = ["viewer", "editor", "owner"];
  permissions = ["read", "edit", "delete"];
  relations = { parent: Organization };

  # Every role of the organization holds on its projects.
  role if role on "parent";

  "read" if "viewer";
  "edit" if "editor";
  "delete" if "owner";
  "viewer" if "editor";
  "editor" if "owner";
}

resource Task {
  permissions = ["read", "edit"];
  relations = { project: Project };

  permission if permission on "project";
}

test "organization editors edit projects and tasks" {
  setup {
    has_role(User{"eve"}, "editor", Organization{"acme"});
    has_relation(Project{"apollo"}, "parent", Organization{"acme"});
    has_relation(Task{"t1"}, "project", Project{"apollo"});
  }
  assert allow(User{"eve"}, "edit", Project{"apollo"});
  assert allow(User{"eve"}, "edit", Task{"t1"});
  assert_not allow(User{"eve"}, "delete", Project{"apollo"});
}
