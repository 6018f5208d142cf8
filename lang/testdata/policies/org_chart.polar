# ReBAC organization charts: a manager sees what their reports created,
# however deep the chain of command. Roles and relations on an actor block.
actor User {
  roles = ["manager"];
  relations = { reports_to: User };

  "manager" if "reports_to";
  "manager" if "manager" on "reports_to";
}

resource Repository {
  roles = ["viewer"];
  permissions = ["read"];
  relations = { creator: User };

  "viewer" if "creator";
  "viewer" if "manager" on "creator";
  "read" if "viewer";
}

test "managers up the chain read their reports' repositories" {
  setup {
    has_relation(User{"dev"}, "reports_to", User{"lead"});
    has_relation(User{"lead"}, "reports_to", User{"vp"});
    has_relation(Repository{"tool"}, "creator", User{"dev"});
  }
  assert allow(user: User, "read", Repository{"tool"}) iff user in [User{"dev"}, User{"lead"}, User{"vp"}];
}
