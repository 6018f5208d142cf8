# Roles and permissions inside the condition of a shorthand rule, as the
# Cloud grammar allows: a role, a role on a relation, a global role, joined
# with calls by and, or, not and parentheses.
actor User {}

global {
  roles = ["auditor"];
}

resource Team {
  roles = ["guest", "lead"];
}

resource Doc {
  roles = ["writer"];
  permissions = ["read", "edit", "view", "peek"];
  relations = { team: Team, other: Team };

  "read" if is_open(resource) and "guest" on "team";
  "edit" if "writer" and not frozen(resource);
  "view" if global "auditor" or ("lead" on "team" and "guest" on "other");
  "peek" if not "guest" on "team" and is_open(resource);
}

test "roles inside shorthand conditions" {
  setup {
    is_open(Doc{"d"});
    has_relation(Doc{"d"}, "team", Team{"t"});
    has_relation(Doc{"d"}, "other", Team{"o"});
    frozen(Doc{"f"});
    has_role(User{"g"}, "guest", Team{"t"});
    has_role(User{"w"}, "writer", Doc{"d"});
    has_role(User{"w"}, "writer", Doc{"f"});
    has_role(User{"a"}, "auditor");
    has_role(User{"l"}, "lead", Team{"t"});
    has_role(User{"l"}, "guest", Team{"o"});
    has_role(User{"m"}, "lead", Team{"t"});
    has_role(User{"m"}, "guest", Team{"t"});
  }

  assert allow(User{"g"}, "read", Doc{"d"});
  assert_not allow(User{"w"}, "read", Doc{"d"});
  assert allow(User{"w"}, "edit", Doc{"d"});
  assert_not allow(User{"w"}, "edit", Doc{"f"});
  assert allow(User{"a"}, "view", Doc{"d"});
  assert allow(User{"l"}, "view", Doc{"d"});
  # each `on` has its own related team: m is lead and guest of t, not of o
  assert_not allow(User{"m"}, "view", Doc{"d"});
  assert_not allow(User{"g"}, "peek", Doc{"d"});
  assert allow(User{"w"}, "peek", Doc{"d"});
}
