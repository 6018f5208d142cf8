# Test blocks and fixtures.
actor User {}
resource Repository {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}

test fixture people {
  has_role(User{"alice"}, "reader", Repository{"anvil"});
}

test fixture people {} # ERROR "duplicate test fixture people"

test "readers read" {
  setup {
    fixture people;
    fixture peopel; # ERROR "unknown test fixture peopel" HINT "did you mean `people`"
    has_role(user, "reader", Repository{"anvil"}); # ERROR "a test setup fact cannot hold the variable user"
    is_weird(Repository{"anvil"}); # WARNING "could not be stored under this policy: unknown predicate is_weird/1"
  }
  assert allow(User{"alice"}, "read", Repository{"anvil"});
  assert allow(User{"alice"}, action: String, Repository{"anvil"}) iff action in ["read"];
  assert allow(User{"alice"}, action, Repository{"anvil"}) iff action in ["read"]; # ERROR "iff variable action must be typed"
  assert allow(User{"alice"}, action: String, Repository{"anvil"}) iff act in ["read"]; # ERROR "iff variable act is not used in the assertion"
  assert allow(user, "read", Repository{"anvil"}); # ERROR "variable user in an assertion must be typed"
  assert allow(User{"alice"}, action: String, Repository{"anvil"}) iff action in [1]; # ERROR "iff value 1 is not a String"
  assert_not allow(User{"bob"}, _, Repository{"anvil"});
}

test "readers read" {} # ERROR "duplicate test \"readers read\""
