# The example policy of the compatibility reference (§1.4, §1.7).
actor User {}

resource Organization {
  roles = ["viewer", "owner"];
  permissions = ["view", "edit"];

  "view" if "viewer";
  "edit" if "owner";
  "viewer" if "owner";
}

resource Repository {
  roles = ["viewer", "owner"];
  permissions = ["view", "create", "read"];
  relations = { parent: Organization };

  "view" if "viewer";
  "viewer" if "viewer" on "parent";
  "create" if "owner";
  "read" if global "admin";
  role if role on "parent";
}

global {
  roles = ["admin", "user"];
  permissions = ["create_repository"];

  "create_repository" if "user";
}

test fixture base {
  has_role(User{"bob"}, "owner", Organization{"acme"});
}

test "owners can read" {
  setup {
    fixture base;
    has_relation(Repository{"r"}, "parent", Organization{"acme"});
  }
  assert allow(User{"bob"}, "view", Organization{"acme"});
  assert_not allow(User{"bob"}, "view", Organization{"bigco"});
  assert has_permission(User{"bob"}, action: String, Organization{"acme"}) iff action in ["view", "edit"];
}
