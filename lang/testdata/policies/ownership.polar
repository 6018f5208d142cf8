# Resource ownership: a relation to an actor used as a role.
actor User {}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read"];
  "read" if "member";
  "member" if "admin";
}

resource Issue {
  roles = ["reader", "owner"];
  permissions = ["read", "comment", "edit", "close"];
  relations = { organization: Organization, creator: User, assignee: User };

  "reader" if "member" on "organization";
  "owner" if "creator";
  "owner" if "admin" on "organization";

  "read" if "reader";
  "comment" if "reader";
  "edit" if "owner";
  "close" if "owner";
  "close" if "assignee";
  "reader" if "owner";
}

test "creators own their issues" {
  setup {
    has_relation(Issue{"42"}, "creator", User{"carol"});
    has_relation(Issue{"42"}, "assignee", User{"dave"});
    has_relation(Issue{"42"}, "organization", Organization{"acme"});
  }
  assert allow(User{"carol"}, "edit", Issue{"42"});
  assert allow(User{"dave"}, "close", Issue{"42"});
  assert_not allow(User{"dave"}, "edit", Issue{"42"});
}
