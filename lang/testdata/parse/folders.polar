# Files in folders in folders: a recursive relation. Readers of a folder
# read everything below it.
actor User {}
actor Group {}

resource Folder {
  roles = ["reader", "writer"];
  permissions = ["read", "write"];
  relations = { parent: Folder, owner: User };

  "reader" if "writer";
  "writer" if "owner";
  role if role on "parent";

  "read" if "reader";
  "write" if "writer";
}

resource File {
  permissions = ["read", "write"];
  relations = { folder: Folder };

  "read" if "read" on "folder";
  "write" if "write" on "folder";
}

# Roles given to a group belong to its members, groups nest.
has_role(user: User, role: String, folder: Folder) if
  has_group(user, group) and has_role(group, role, folder);
has_group(user: User, group: Group) if
  has_group(user, g) and has_group(g, group);

test "reading is inherited down the tree" {
  setup {
    has_role(User{"alice"}, "reader", Folder{"root"});
    has_relation(Folder{"docs"}, "parent", Folder{"root"});
    has_relation(Folder{"specs"}, "parent", Folder{"docs"});
    has_relation(File{"design.md"}, "folder", Folder{"specs"});
  }
  assert allow(User{"alice"}, "read", File{"design.md"});
  assert_not allow(User{"alice"}, "write", File{"design.md"});
}
