# Names that are keywords elsewhere stay usable as variables.
allow(actor, action, resource) if has_permission(actor, action, resource);
f(roles, permissions, relations, on, global, setup, fixture, assert, extends) if
  g(roles, permissions, relations, on, global, setup, fixture, assert, extends);

# Namespaced type names.
resource App::Document {}
has_permission(_: User, "read", _: App::Document);

# Types on parameters, wildcards and literal parameters.
has_role(_: User, "user");
f(1, -2, "s", true, User{"u"}, Integer{7}, [1, [2]]);
declare is_weird(Integer, String, Boolean);
declare unary(User);
