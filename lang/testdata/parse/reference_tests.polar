# The tests of the compatibility reference (section 1.7).
test fixture base {
  has_role(User{"bob"}, "owner", Organization{"acme"});
}

test "owners can read" {
  setup {
    fixture base;
    has_relation(Repository{"r"}, "parent", Organization{"acme"});
  }
  assert allow(User{"bob"}, "read", Organization{"acme"});
  assert_not allow(User{"bob"}, "read", Organization{"bigco"});
  assert has_permission(User{"bob"}, action: String, Organization{"acme"}) iff action in ["read", "edit"];
}
