# Shorthand rules resolved against the block's declarations.
actor User {
  relations = { manager: User };
}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read"];
  relations = { parent: Organization };
  "read" if "member";
  "member" if "admin";
}

resource Repository {
  roles = ["contributor", "maintainer"];
  permissions = ["read", "push"];
  relations = { parent: Organization, creator: User };

  "read" if "contributer"; # ERROR:13 "\"contributer\" is not a role, permission or relation of Repository" HINT "did you mean `contributor`"
  "pull" if "contributor"; # ERROR "\"pull\" is not a role or permission of Repository" HINT "roles and permissions declared on Repository: contributor, maintainer, push, read"
  "creator" if "maintainer"; # ERROR "relation of Repository and cannot be the head"
  "push" if "maintainer";
  "read" if "contributor";
  "contributor" if "maintainer";
  "maintainer" if "creator";
  "maintainer" if "admin" on "parent";
  "contributor" if "membr" on "parent"; # ERROR "\"membr\" is not a role, permission or relation of Organization" HINT "did you mean `member`"
  "contributor" if "member" on "org"; # ERROR:32 "on \"org\": \"org\" is not declared in Repository" HINT "relations declared on Repository: creator, parent"
  "contributor" if "member" on "read"; # ERROR "\"read\" is a permission, not a relation"
  "read" if global "superuser"; # ERROR "global \"superuser\": the policy has no global block" HINT "global block"
  role if permission on "parent"; # ERROR "`role if permission on \"parent\"`: an unquoted head needs the same unquoted name as implier"
  role if "maintainer";
  "read" if role on "parent";
  "read" if permission;
  "push" if admin on "parent"; # ERROR "unquoted implier admin: only role and permission may be unquoted"
  role if role; # ERROR "needs `on \"relation\"`"
  owner if owner on "parent"; # ERROR "only role and permission may be unquoted"
  "push" if is_open(resource) and has_key(actor, resource);
  "push" if not blocked(someone); # ERROR "variable someone under `not` is never bound"
  role if is_admin(actor); # ERROR "a shorthand rule with a condition needs a quoted head"
  "pull" if is_open(resource); # ERROR "\"pull\" is not a role or permission of Repository"
  role if role on "parent";
}

resource Issue {
  roles = ["reader"];
  permissions = ["read"];
  relations = { repo: Repository };
  "reader" if "repo"; # WARNING "relation \"repo\" of Issue targets Repository, which is not an actor type"
  "read" if "reader";
  "read" if "maintainer" on "repo";
  "reader" if "creator" on "repo";
}

resource Label {
  relations = { repo: Repository };
  permission if "maintainer" on "repo"; # ERROR "`permission if \"maintainer\" on \"repo\"`: Label declares no permissions"
}
