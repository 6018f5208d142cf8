# Type names, literals and declarations.
actor User {}
resource Repository {
  permissions = ["read"];
  "read" if "reader"; # ERROR "\"reader\" is not a role, permission or relation of Repository"
}

# Types without blocks are allowed (custom roles), typos of blocks warn.
has_permission(user: User, "read", repo: Repositry) if is_public(repo); # WARNING "type Repositry has no block" HINT "did you mean `Repository`"
has_role(user: User, role: Role, repo: Repository) if role matches Role and assigned(user, role, repo);
has_permission(user: Usr, "read", repo: Repository) if banned(user); # WARNING "type Usr has no block"
custom(x: Actor, y: Resource, z: Integer, w: String, v: Boolean) if f(x, y, z, w, v);
literal(Integer{3}, Boolean{true}, String{"x"}, User{"alice"});
bad_literal(Integer{"x"}); # ERROR "Integer\{x\} is not a valid Integer"
abstract(Actor{"x"}); # ERROR "Actor is abstract"

declare is_public(Repository, Boolean);
public_repo(repo: Repository) if is_public(repo, true);
public_typo(repo: Repository) if is_public(repo, "yes"); # ERROR "is_public/2: argument 2 is a String, but the declarations of is_public/2 do not allow it" HINT "declared at"
declare tagged(Repository, Strng); # WARNING "type Strng has no block" HINT "did you mean `String`"

# A declaration may come before the block it names.
declare rating(Repositories, Integer);
resource Repositories {}

# Typos in value literals of rules warn too.
allow(_: User, "read", Repositry{"readme"}); # WARNING "type Repositry has no block" HINT "did you mean `Repository`"

# Only a type one edit from a block is taken for a typo: Role is two edits
# from Fold, and `role matches Role` above stays quiet.
resource Fold {}
