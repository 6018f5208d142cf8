# The OpenID AuthZEN interop Search scenario: records with an owner and a
# department, users with a role and a department. The questions are
# searches (AuthZEN 1.0 search APIs): who may do an action on a record
# (subject search), which records a user may act on (resource search),
# what a user may do on a record (action search). Castellan answers them
# from this policy and the stored facts load.sh tells.

actor user {
  relations = { department: department };
}

resource department {}

global {
  roles = ["manager", "employee", "contractor"];
}

resource record {
  permissions = ["view", "edit", "delete"];
  relations = { owner: user, department: department };

  # The owner may do everything with a record.
  "view" if "owner";
  "edit" if "owner";
  "delete" if "owner";
  # Anyone may view the records of their department; a manager any record,
  # and edit those of their department.
  "view" if same_department(actor, resource);
  "view" if global "manager" and is_record(resource);
  "edit" if global "manager" and same_department(actor, resource);
}

same_department(u: user, r: record) if
  has_relation(u, "department", d) and has_relation(r, "department", d);

# A record exists through its facts: every record has a department. So a
# manager's "any record" lists the records there are (a search names
# records, it cannot answer "every record"), and an unknown record is
# nobody's to view.
is_record(r: record) if has_relation(r, "department", _);

test "the scenario's rules" {
  setup {
    has_role(user{"alice"}, "manager");
    has_relation(user{"alice"}, "department", department{"Sales"});
    has_role(user{"bob"}, "employee");
    has_relation(user{"bob"}, "department", department{"Legal"});
    has_relation(record{"101"}, "owner", user{"alice"});
    has_relation(record{"101"}, "department", department{"Legal"});
    has_relation(record{"107"}, "owner", user{"bob"});
    has_relation(record{"107"}, "department", department{"Sales"});
  }
  assert has_permission(user{"alice"}, action: String, record{"101"}) iff action in ["view", "edit", "delete"];
  assert has_permission(user{"alice"}, action: String, record{"107"}) iff action in ["view", "edit"];
  assert has_permission(user{"bob"}, action: String, record{"101"}) iff action in ["view"];
  assert has_permission(user{"bob"}, action: String, record{"107"}) iff action in ["view", "edit", "delete"];
  assert_not has_permission(user{"alice"}, "view", record{"999"});
}
