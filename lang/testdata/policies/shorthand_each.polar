# An unquoted head with a quoted implier: `permission if "boss" on "org";`
# grants every permission of the block, `role if "owner";` every role.
actor User {}

resource Org {
  roles = ["boss", "staff"];
  permissions = ["enter"];
  "staff" if "boss";
  "enter" if "staff";
}

resource Ticket {
  roles = ["owner", "helper"];
  permissions = ["see", "close"];
  relations = { org: Org };

  permission if "boss" on "org";
  role if "owner";
  "see" if "helper";
}

test "every permission or role of the block" {
  setup {
    has_relation(Ticket{"t"}, "org", Org{"o"});
    has_role(User{"b"}, "boss", Org{"o"});
    has_role(User{"s"}, "staff", Org{"o"});
    has_role(User{"w"}, "owner", Ticket{"t"});
  }

  assert allow(User{"b"}, "see", Ticket{"t"});
  assert allow(User{"b"}, "close", Ticket{"t"});
  assert_not allow(User{"s"}, "see", Ticket{"t"});
  assert allow(User{"w"}, "see", Ticket{"t"});
  assert has_role(User{"w"}, "helper", Ticket{"t"});
  assert_not allow(User{"w"}, "close", Ticket{"t"});
}
