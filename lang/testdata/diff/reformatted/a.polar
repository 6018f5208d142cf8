actor User {}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["view", "edit"];
  "view" if "viewer";
  "edit" if "editor";
}
has_permission(u: User, "view", d: Doc) if is_public(d) and not is_banned(u);
