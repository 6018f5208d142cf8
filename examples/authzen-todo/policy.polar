# The OpenID AuthZEN interop Todo scenario (AuthZEN 1.0): a shared todo
# list. Subjects are users by their PID; their roles and emails are stored
# facts (load.sh). The todo being changed comes with each request:
# resource.properties.ownerID is the owner's email, and Castellan turns it
# into has_attribute(todo{id}, "ownerID", "<email>") for that request only
# (docs/api.md, "Attributes").

actor user {
  permissions = ["can_read_user"];
  # Anyone known (every user has a role) may read a user's information.
  "can_read_user" if global "viewer";
}

global {
  roles = ["viewer", "editor", "admin", "evil_genius"];
  "viewer" if "editor";
  "editor" if "admin";
  "editor" if "evil_genius";
}

resource todo {
  permissions = ["can_read_todos", "can_create_todo", "can_update_todo", "can_delete_todo"];
  "can_read_todos" if global "viewer";
  "can_create_todo" if global "editor";
  # evil_genius edits anyone's todos, admin deletes them; an editor changes
  # only their own.
  "can_update_todo" if global "evil_genius";
  "can_delete_todo" if global "admin";
  "can_update_todo" if global "editor" and is_owner(actor, resource);
  "can_delete_todo" if global "editor" and is_owner(actor, resource);
}

# The attributes the policy reads, and their types: a user's email is
# stored, a todo's ownerID arrives with the request.
declare has_attribute(user, String, String);
declare has_attribute(todo, String, String);

is_owner(u: user, t: todo) if
  has_attribute(t, "ownerID", email) and has_attribute(u, "email", email);

test fixture users {
  has_role(user{"rick"}, "admin");
  has_role(user{"rick"}, "evil_genius");
  has_attribute(user{"rick"}, "email", "rick@the-citadel.com");
  has_role(user{"morty"}, "editor");
  has_attribute(user{"morty"}, "email", "morty@the-citadel.com");
  has_role(user{"beth"}, "viewer");
  has_attribute(user{"beth"}, "email", "beth@the-smiths.com");
}

test "editors change their own todos, evil geniuses and admins anyone's" {
  setup {
    fixture users;
    has_attribute(todo{"1"}, "ownerID", "morty@the-citadel.com");
    has_attribute(todo{"2"}, "ownerID", "beth@the-smiths.com");
  }
  assert allow(user{"morty"}, "can_update_todo", todo{"1"});
  assert allow(user{"morty"}, "can_delete_todo", todo{"1"});
  assert_not allow(user{"morty"}, "can_update_todo", todo{"2"});
  assert allow(user{"rick"}, "can_update_todo", todo{"2"});
  assert allow(user{"rick"}, "can_delete_todo", todo{"2"});
  assert_not allow(user{"beth"}, "can_delete_todo", todo{"2"});
  assert_not allow(user{"beth"}, "can_create_todo", todo{"todo-1"});
  assert allow(user{"beth"}, "can_read_todos", todo{"todo-1"});
  assert allow(user{"beth"}, "can_read_user", user{"rick@the-citadel.com"});
  assert_not allow(user{"stranger"}, "can_read_todos", todo{"todo-1"});
}
