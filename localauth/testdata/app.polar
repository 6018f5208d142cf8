# The application of the local-authorization tests: organizations,
# folders nested in folders, repositories in organizations or folders,
# issues with creators and public flags. Relations live in the
# application's database (app.yaml); roles are stored in Castellan.
actor User {}
resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "manage"];
  "member" if "admin";
  "read" if "member";
  "manage" if "admin";
}
resource Folder {
  roles = ["viewer"];
  permissions = ["read"];
  relations = { parent: Folder, organization: Organization };
  "viewer" if "viewer" on "parent";
  "viewer" if "admin" on "organization";
  "read" if "viewer";
}
resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "write"];
  relations = { organization: Organization, folder: Folder };
  "reader" if "member" on "organization";
  "reader" if "viewer" on "folder";
  "reader" if "maintainer";
  "read" if "reader";
  "write" if "maintainer";
}
resource Issue {
  permissions = ["read", "comment", "close"];
  relations = { repository: Repository, creator: User };
  "read" if "read" on "repository";
  "read" if is_public(resource);
  "comment" if "read";
  "close" if "creator";
  "close" if "write" on "repository";
}
has_permission(user: User, "read", _issue: Issue) if is_god(user);
