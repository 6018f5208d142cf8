actor User {}
resource Doc {
  permissions = ["view"];
}
has_permission(_: User, "view", d: Doc) if is_public(d) and not is_archived(d);
has_permission(u: User, "view", _: Doc) if is_admin(u);
is_admin(u: User) if has_flag(u, "admin");
test "public docs" {
  setup { is_public(Doc{"p"}); }
  assert allow(User{"a"}, "view", Doc{"p"});
}
test "admins" {
  setup { has_flag(User{"a"}, "admin"); }
  assert allow(User{"a"}, "view", Doc{"x"});
}
