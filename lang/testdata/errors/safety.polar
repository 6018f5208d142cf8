# Unsafe variables.
actor User {}
resource Repository {
  permissions = ["read"];
}

# A head variable the body leaves unbound is a wildcard: fine.
has_permission(user: User, "read", repo: Repository) if is_public(repo);
has_permission(_: User, "read", _: Repository);
allow(user: User, action, repo: Repository) if not is_banned(user) and has_permission(user, action, repo);

has_role(user: User, role, repo: Repository) if not has_role(user, other, repo); # ERROR:68 "variable other under `not` is never bound" HINT "write `_` if any value will do"
has_role(user: User, "x", repo: Repository) if not has_role(user, _, repo);
is_old(repo: Repository) if created_at(repo, t) and t < limit; # ERROR "variable limit in a comparison is never bound"
is_new(repo: Repository) if created_at(repo, t) and t > @current_unix_time;
is_recent(repo: Repository) if created_at(repo, t) and t > @current_time; # ERROR "unknown built-in constant @current_time" HINT "the only built-in constant is @current_unix_time"
in_list(repo: Repository) if x in ["a", "b"] and tagged(repo, x);
bad_in(repo: Repository) if tagged(repo, x) and x in list; # ERROR "variable list in `in` is never bound"
bad_unify(repo: Repository) if a = b and tagged(repo, "x"); # ERROR "variable a in a unification is never bound" # ERROR "variable b in a unification is never bound"
good_unify(repo: Repository) if a = "x" and b = a and tagged(repo, b);
or_bound(repo: Repository) if (tagged(repo, x) or labelled(repo, x)) and x != "secret";
or_unbound(repo: Repository) if (tagged(repo, x) or labelled(repo, "y")) and x != "secret"; # ERROR "variable x in a comparison is never bound"
anon_cmp(repo: Repository) if tagged(repo, _) and _ == 1; # ERROR "`_` in a comparison has no value"
not_local(repo: Repository) if not (member(repo, _g) and banned(_g));
