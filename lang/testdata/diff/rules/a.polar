actor User {}
resource Doc {
  permissions = ["view"];
}
has_permission(_: User, "view", d: Doc) if is_public(d);
has_permission(u: User, "view", d: Doc) if owns(u, d);
is_admin(u: User) if has_flag(u, "admin");
test "public docs" {
  setup { is_public(Doc{"p"}); }
  assert allow(User{"a"}, "view", Doc{"p"});
}
test "old" {
  assert_not allow(User{"a"}, "view", Doc{"x"});
}
