# Global roles.
actor User {}

global {
  roles = ["admin", "member"];
  permissions = ["create_org", "audit"]; # WARNING "permission \"audit\" of global is never granted"
  "create_org" if "member";
  "member" if "admin";
  "create_org" if "admin" on "parent"; # ERROR "the global block has no relations"
}

resource Organization {
  roles = ["owner"];
  permissions = ["read", "delete"];
  "owner" if global "admin";
  "read" if global "amdin"; # ERROR "\"amdin\" is not a role or permission of the global block" HINT "did you mean `admin`"
  "read" if "owner";
  "delete" if "owner";
}

resource Project {
  permissions = ["read", "admin_read"];
  relations = { org: Organization };
  "admin_read" if "admin"; # ERROR "\"admin\" is not a role, permission or relation of Project" HINT "\"admin\" is a role of the global block: write `\"admin_read\" if global \"admin\";`"
  "read" if "owner"; # ERROR "\"owner\" is not a role" HINT "\"owner\" is declared on Organization, the type of Project.org: write `\"read\" if \"owner\" on \"org\";`"
}
