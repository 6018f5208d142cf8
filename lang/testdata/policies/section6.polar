# The constructs real Oso Cloud policies use beyond plain RBAC
# (reference §6): each must load.
actor User {
  roles = ["self"];
  permissions = ["read_profile", "update_profile"];
  relations = { manager: User };

  "read_profile" if "self";
  "update_profile" if "self";
  "read_profile" if "manager";
}

actor Agent {}

global {
  roles = ["admin"];
  permissions = ["create_organization"];
  "create_organization" if "admin";
}

resource Organization {
  roles = ["member", "owner"];
  permissions = ["read", "update", "org.settings.read"];
  relations = { parent: Organization };

  "read" if "member";
  "update" if "owner";
  "org.settings.read" if "owner";
  "member" if "owner";
  "read" if "update";
  role if role on "parent";
}

# Bodiless rules, with a typed wildcard.
has_role(_: User, "self", _: User);
has_role(_: Agent, "member", Organization{"public"});

# The same variable twice in a head.
has_permission(user: User, "read_profile", user: User);

# A hand-written has_relation rule and a recursive helper predicate.
has_relation(child: Organization, "ancestor", ancestor: Organization) if
  has_relation(child, "parent", ancestor);
has_relation(child: Organization, "ancestor", ancestor: Organization) if
  has_relation(child, "parent", parent) and
  has_relation(parent, "ancestor", ancestor);

# Abstract types; untyped parameters; object and string literals in heads.
has_permission(actor: Actor, "read", resource: Resource) if
  is_public(resource, true) and not is_banned(actor);
has_permission(User{"root"}, action, _: Organization) if action in ["read", "update"];
has_permission(_, "ping", "service");

# `or`, parentheses, `not`, `in`.
allow(actor: Actor, "audit", org: Organization) if
  (has_role(actor, "owner", org) or has_role(actor, "admin")) and
  not is_frozen(org, true);
allow(actor, action, resource) if
  is_superuser(actor, true) and action in ["read", "update", "audit"] and resource matches Organization;

# declare, Boolean and 3-argument custom facts.
declare is_superuser(User, Boolean);
declare is_weird(Integer, String, Boolean);
declare has_tag(Organization, String, String);
tagged(org: Organization, key: String, value: String) if has_tag(org, key, value);

# Rules of 4 and 6 arguments.
can_delegate(user: User, "read", org: Organization, agent: Agent) if
  has_role(user, "owner", org) and delegates(user, agent);
audit_event(user: User, action: String, org: Organization, ip: String, time: Integer, ok: Boolean) if
  logged(user, action, org, ip, time, ok);

# Integer, Boolean and String literals, folded into primitives.
limits(Organization{"acme"}, Integer{3}, Boolean{true}, String{"x"});

# The complex.polar shape: a 2-argument has_permission over two resources.
has_permission(u: User, r: Organization) if
  o matches Organization and has_relation(r, "parent", o) and has_permission(u, o);

test "constructs" {
  setup {
    has_role(User{"a"}, "owner", Organization{"acme"});
    is_weird(1, "x", true);
  }
  assert allow(User{"a"}, "audit", Organization{"acme"});
  assert has_permission(User{"a"}, "read_profile", User{"a"});
  assert has_permission(User{"root"}, action: String, Organization{"x"}) iff action in ["read", "update"];
  assert_not allow(_: User, "audit", Organization{"other"});
}
