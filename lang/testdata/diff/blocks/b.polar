actor User {}
actor Team {}
resource Org {
  roles = ["member"];
}
resource Folder {
  roles = ["viewer"];
  permissions = ["view"];
  "view" if "viewer";
}
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["view", "edit"];
  relations = { parent: Folder, reviewer: User };
  "view" if "viewer";
  "edit" if "editor";
  "viewer" if "viewer" on "parent";
}
