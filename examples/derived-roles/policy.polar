# The album scenario of Cerbos' quickstart, written the way a Cerbos user
# knows it: principal roles, resource attributes, derived roles, a
# resource policy's rules, and principal policies for one user. The table
# in docs/polar.md ("Coming from Cerbos") maps each concept to its form
# here.
#
# Attributes are facts: Cerbos' request.resource.attr.owner is
# album_owner(Album, User), attr.public is is_public(Album, Boolean),
# attr.flagged is is_flagged(Album, Boolean). They can be stored, or sent
# with each question as context facts, as a Cerbos request carries them
# (run.sh does that). Principal roles are global roles.

actor User {}

global {
  roles = ["user", "moderator"];
}

resource Album {
  # The actions the rules below name; an owner may do any action (see
  # the rule after the block), edit and share included.
  permissions = ["view", "comment", "flag", "delete"];
  roles = ["owner", "abuse_moderator"];

  # Derived roles.
  # owner: request.resource.attr.owner == request.principal.id
  "owner" if album_owner(resource, actor);
  # abuse_moderator: parentRoles [moderator], if request.resource.attr.flagged
  "abuse_moderator" if global "moderator" and is_flagged(resource, true);

  # The resource policy's rules.
  # user may view public albums, and comment on them while not flagged.
  "view" if global "user" and is_public(resource, true);
  "comment" if global "user" and is_public(resource, true) and not is_flagged(resource, true);
  # whoever can view an album can flag it.
  "flag" if "view";
  # abuse_moderator may view and delete (unless a principal policy denies it).
  "view" if "abuse_moderator";
  "delete" if "abuse_moderator" and not denied(actor, "delete", resource);
}

# owner: actions ["*"] -- any action at all, also one no block declares,
# unless a principal policy denies it.
has_permission(user: User, action: String, album: Album) if
  has_role(user, "owner", album) and not denied(user, action, album);

# Principal policy for daffy_duck (an override): he may view every album.
has_permission(User{"daffy_duck"}, "view", _: Album);

# Principal policy for bugs_bunny (a deny): he may not delete any album,
# not even his own. Polar rules only add permissions, so a deny is a
# condition of the rules it overrides (the owner's and the moderator's).
denied(User{"bugs_bunny"}, "delete", _: Album);

test "derived roles, attributes, an override and a deny" {
  setup {
    has_role(User{"bugs_bunny"}, "user");
    has_role(User{"elmer"}, "user");
    has_role(User{"porky"}, "user");
    has_role(User{"porky"}, "moderator");
    album_owner(Album{"a1"}, User{"bugs_bunny"});
    is_public(Album{"a1"}, false);
    album_owner(Album{"a2"}, User{"bugs_bunny"});
    is_public(Album{"a2"}, true);
    is_flagged(Album{"a2"}, true);
  }

  assert allow(User{"bugs_bunny"}, "edit", Album{"a1"});
  assert allow(User{"bugs_bunny"}, "archive", Album{"a1"});
  assert_not allow(User{"bugs_bunny"}, "delete", Album{"a1"});
  assert_not allow(User{"elmer"}, "view", Album{"a1"});
  assert allow(User{"elmer"}, "view", Album{"a2"});
  assert_not allow(User{"elmer"}, "comment", Album{"a2"});
  assert allow(User{"porky"}, "delete", Album{"a2"});
  assert allow(User{"daffy_duck"}, "view", Album{"a1"});
  assert_not allow(User{"daffy_duck"}, "edit", Album{"a1"});
}
