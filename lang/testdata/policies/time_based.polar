# ABAC time-based checks with the @current_unix_time constant.
actor User {}

resource File {
  roles = ["viewer"];
  permissions = ["read"];
  "read" if "viewer";
}

# A temporary grant: the role holds until its expiry time.
has_role(user: User, "viewer", file: File) if
  has_temporary_role(user, "viewer", file, expires_at) and
  @current_unix_time < expires_at;

# An embargoed file may be read only after its release time.
has_permission(_: Actor, "read", file: File) if
  released_at(file, time) and
  time <= @current_unix_time and
  is_public(file, true);

test "expired grants do not count" {
  setup {
    has_temporary_role(User{"tom"}, "viewer", File{"old"}, 1000);
    has_temporary_role(User{"tom"}, "viewer", File{"new"}, 9223372036854775807);
  }
  assert allow(User{"tom"}, "read", File{"new"});
  assert_not allow(User{"tom"}, "read", File{"old"});
}
