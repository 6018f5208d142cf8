# The same policy, reformatted and reordered.
actor User { }

has_permission(u: User, "view", d: Doc) if
  is_public(d) and
  not is_banned(u);

resource Doc {
  permissions = ["edit", "view"];
  roles = ["editor", "viewer"];
  "edit" if "editor";
  "view" if "viewer";
}
