# Field-level authorization, both ways Oso models it: fields as resources,
# and fields in permission names (dots included).
actor User {}

resource Account {
  roles = ["member", "admin"];
  permissions = ["read", "account.email.read", "account.email.update", "account.billing.read"];

  "read" if "member";
  "account.email.read" if "member";
  "account.email.update" if "admin";
  "account.billing.read" if "admin";
  "member" if "admin";
}

resource Field {
  permissions = ["read", "update"];
  relations = { account: Account };
}

# A 4-argument rule: may the user do action on field of account?
allow_field(user: User, "read", account: Account, Field{"email"}) if
  has_role(user, "member", account);
allow_field(user: User, "update", account: Account, field: Field) if
  has_role(user, "admin", account) and
  field in [Field{"email"}, Field{"name"}];

has_permission(user: User, "read", field: Field) if
  account matches Account and
  has_relation(field, "account", account) and
  has_role(user, "member", account);

test "fields" {
  setup {
    has_role(User{"ada"}, "admin", Account{"a1"});
  }
  assert allow_field(User{"ada"}, "update", Account{"a1"}, Field{"name"});
  assert allow(User{"ada"}, "account.billing.read", Account{"a1"});
}
