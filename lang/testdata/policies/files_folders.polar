# ReBAC files and folders: folders nest, files live in folders, and roles
# flow down the tree.
actor User {}

resource Drive {
  roles = ["viewer", "editor", "owner"];
  "viewer" if "editor";
  "editor" if "owner";
}

resource Folder {
  roles = ["viewer", "editor", "owner"];
  permissions = ["read", "write", "create_file", "delete"];
  relations = { drive: Drive, parent: Folder };

  role if role on "drive";
  role if role on "parent";

  "viewer" if "editor";
  "editor" if "owner";

  "read" if "viewer";
  "write" if "editor";
  "create_file" if "editor";
  "delete" if "owner";
}

resource File {
  roles = ["viewer", "editor"];
  permissions = ["read", "write", "delete"];
  relations = { folder: Folder, owner: User };

  "viewer" if "viewer" on "folder";
  "editor" if "editor" on "folder";
  "editor" if "owner";
  "viewer" if "editor";

  "read" if "viewer";
  "write" if "editor";
  "delete" if "owner";
  "delete" if "delete" on "folder";
}

test "roles flow down nested folders" {
  setup {
    has_role(User{"fay"}, "editor", Drive{"team"});
    has_relation(Folder{"docs"}, "drive", Drive{"team"});
    has_relation(Folder{"docs/2024"}, "parent", Folder{"docs"});
    has_relation(File{"docs/2024/plan.md"}, "folder", Folder{"docs/2024"});
  }
  assert allow(User{"fay"}, "write", File{"docs/2024/plan.md"});
  assert allow(User{"fay"}, "create_file", Folder{"docs/2024"});
  assert_not allow(User{"fay"}, "delete", File{"docs/2024/plan.md"});
}
