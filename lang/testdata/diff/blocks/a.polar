actor User {}
actor Bot {}
resource Org {
  roles = ["member"];
}
resource Doc {
  roles = ["viewer", "owner"];
  permissions = ["view", "delete"];
  relations = { parent: Org, creator: User };
  "view" if "viewer";
  "delete" if "owner";
  "viewer" if "member" on "parent";
}
resource Team {}
