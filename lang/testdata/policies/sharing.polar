# Resource sharing: invitations and roles granted on single documents.
actor User {}

resource Document {
  roles = ["viewer", "commenter", "editor", "owner"];
  permissions = ["view", "comment", "edit", "share", "delete", "invite"];
  relations = { owner_user: User };

  "owner" if "owner_user";
  "editor" if "owner";
  "commenter" if "editor";
  "viewer" if "commenter";

  "view" if "viewer";
  "comment" if "commenter";
  "edit" if "editor";
  "share" if "editor";
  "invite" if "owner";
  "delete" if "owner";
}

# A document shared by link can be viewed by anyone with the link.
has_role(user: User, "viewer", doc: Document) if
  shared_by_link(doc, true) and
  has_link(user, doc);

test "sharing" {
  setup {
    has_relation(Document{"plan"}, "owner_user", User{"olga"});
    has_role(User{"vic"}, "commenter", Document{"plan"});
    shared_by_link(Document{"memo"}, true);
    has_link(User{"lou"}, Document{"memo"});
  }
  assert allow(User{"olga"}, "delete", Document{"plan"});
  assert allow(User{"vic"}, action: String, Document{"plan"}) iff action in ["view", "comment"];
  assert allow(User{"lou"}, "view", Document{"memo"});
  assert_not allow(User{"lou"}, "view", Document{"plan"});
}
