# extends: subtypes inherit roles, permissions, relations and the rules
# written for their supertype.
actor User {}
actor ServiceAccount extends User {}

resource Organization {
  roles = ["member"];
  permissions = ["read"];
  "read" if "member";
}

resource Document {
  roles = ["viewer", "editor"];
  permissions = ["read", "edit"];
  relations = { organization: Organization };
  "read" if "viewer";
  "edit" if "editor";
  "viewer" if "editor";
  "viewer" if "member" on "organization";
}

resource Spreadsheet extends Document {
  permissions = ["export"];
  "export" if "editor";
}

resource Slides extends Document {}

has_permission(user: User, "present", slides: Slides) if
  has_role(user, "viewer", slides);

test "subtypes" {
  setup {
    has_role(ServiceAccount{"bot"}, "editor", Spreadsheet{"q3"});
    has_relation(Slides{"deck"}, "organization", Organization{"acme"});
    has_role(User{"u"}, "member", Organization{"acme"});
  }
  assert allow(ServiceAccount{"bot"}, "export", Spreadsheet{"q3"});
  assert allow(ServiceAccount{"bot"}, "read", Spreadsheet{"q3"});
  assert allow(User{"u"}, "read", Slides{"deck"});
}
