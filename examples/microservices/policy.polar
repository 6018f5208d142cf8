# The GitHub Actions scenario: who may rerun a CI action?
#
# The Repositories service owns repositories and their maintainers and
# tells Castellan the roles (has_role facts, stored). The Actions service
# owns CI actions and knows which repository each belongs to; it sends that
# relation with each question as a context fact, so Castellan never stores
# it.

actor User {}

resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read"];

  "read" if "reader";
  "reader" if "maintainer";
}

resource Action {
  relations = { repository: Repository };
  permissions = ["read", "rerun"];

  "read" if "reader" on "repository";
  "rerun" if "maintainer" on "repository";
}

test "maintainers of its repository rerun an action; readers only see it" {
  setup {
    has_role(User{"alice"}, "maintainer", Repository{"anvil"});
    has_role(User{"bob"}, "reader", Repository{"anvil"});
    has_relation(Action{"1"}, "repository", Repository{"anvil"});
  }

  assert allow(User{"alice"}, "rerun", Action{"1"});
  assert allow(User{"alice"}, "read", Action{"1"});
  assert allow(User{"bob"}, "read", Action{"1"});
  assert_not allow(User{"bob"}, "rerun", Action{"1"});
  assert_not allow(User{"alice"}, "rerun", Action{"2"});
}
