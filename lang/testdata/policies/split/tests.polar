test fixture acme {
  has_role(User{"a"}, "member", Organization{"acme"});
  has_relation(Repository{"r"}, "organization", Organization{"acme"});
}

test "members read the organization's repositories" {
  setup {
    fixture acme;
  }
  assert allow(User{"a"}, "read", Repository{"r"});
}
