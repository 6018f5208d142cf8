# Uses Organization, declared in blocks.polar.
resource Repository {
  roles = ["reader"];
  permissions = ["read"];
  relations = { organization: Organization };
  "reader" if "member" on "organization";
  "read" if "reader";
}

has_permission(user: User, "read", repo: Repository) if
  is_public(repo, true) and user matches User;
