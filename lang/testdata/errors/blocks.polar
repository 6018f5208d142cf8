# Block-level checks: duplicates, extends, relation targets, declarations.
actor User {}

resource Project {
  roles = ["member"];
  permissions = ["read"];
  "read" if "member";
}

resource Project {} # ERROR:10 "duplicate block Project"

resource Repository extends Projet { # ERROR "extends Projet, which no actor or resource block declares" HINT "did you mean `Project`"
  roles = ["viewer", "viewer"]; # ERROR "role \"viewer\" declared twice in Repository"
  permissions = ["read", "owner"]; # WARNING "permission \"owner\" of Repository is never granted"
  relations = { parent: Organisation, owner: User, team: Team }; # ERROR "\"owner\" declared as both permission and relation" # ERROR "relation parent of Repository targets Organisation" HINT "did you mean `Organization`" # ERROR "relation team of Repository targets Team" HINT "declare it with"
  "read" if "viewer";
}

resource Organization {
  roles = ["admin"];
  roles = ["member"]; # ERROR "roles declared twice in Organization" HINT "merge"
  relations = { parent: Organization };
  relations = { child: Organization }; # ERROR "relations declared twice in Organization"
  "admin" if "admin" on "parent";
  "member" if "member" on "child";
}

resource String {} # ERROR "String is a built-in type"

global {
  roles = ["admin"]; # WARNING "role \"admin\" of global is declared but never used"
  relations = { org: Organization }; # ERROR "the global block cannot declare relations"
}

global {} # ERROR "duplicate global block"

resource A extends B { roles = ["x"]; } # ERROR "extends cycle" # WARNING "role \"x\" of A is declared but never used"
resource B extends A {}

# Extending the abstract types is a no-op, except making a resource an actor.
resource Doc extends Resource {}
actor Bot extends Actor, Resource {}
resource Folder extends Actor {} # ERROR "resource Folder cannot extend Actor" HINT "actor Folder"
