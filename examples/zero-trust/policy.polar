# The zero-trust scenario: who may read a performance review, and through
# which workload?
#
# Nobody asks Castellan on their own word. employee-service and
# ai-reporting-agent authenticate with workload tokens (JWTs of the
# workloads issuer); employee-service sends the end user's token in
# Castellan-On-Behalf-Of. Castellan verifies both and adds the facts the
# policy reads below: request_caller, request_on_behalf_of and has_claim
# (the user's role and department). No caller can send or store them.
# Which department a review belongs to is stored (review_department).

actor User {}
actor Service {}
actor Agent {}

resource Review {
  permissions = ["read"];
}

resource HrReport {
  permissions = ["read", "read:aggregate"];
}

declare review_department(Review, String);

# Only employee-service reads reviews, and only for the user it acts for:
# someone in hr...
has_permission(user: User, "read", _review: Review) if
  request_caller(Service{"employee-service"}) and
  request_on_behalf_of(user) and
  has_claim(user, "role", "hr");

# ...or a manager of the review's department.
has_permission(user: User, "read", review: Review) if
  request_caller(Service{"employee-service"}) and
  request_on_behalf_of(user) and
  has_claim(user, "role", "manager") and
  has_claim(user, "department", department) and
  review_department(review, department);

# The AI agent reads aggregates of HR reports, for itself, on behalf of
# nobody, and nothing else.
has_permission(agent: Agent, "read:aggregate", _report: HrReport) if
  agent = Agent{"ai-reporting-agent"} and
  request_caller(agent) and
  not request_on_behalf_of(_user);

test fixture reviews {
  review_department(Review{"eng-1"}, "engineering");
  review_department(Review{"sales-1"}, "sales");
}

test "employee-service reads reviews for hr, and for the manager of the review's department" {
  setup {
    fixture reviews;
    request_caller(Service{"employee-service"});
    request_on_behalf_of(User{"bob"});
    has_claim(User{"bob"}, "role", "manager");
    has_claim(User{"bob"}, "department", "engineering");
  }
  assert allow(User{"bob"}, "read", Review{"eng-1"});
  assert_not allow(User{"bob"}, "read", Review{"sales-1"});
  assert_not allow(User{"alice"}, "read", Review{"eng-1"});
}

test "an hr user reads every review through employee-service" {
  setup {
    fixture reviews;
    request_caller(Service{"employee-service"});
    request_on_behalf_of(User{"alice"});
    has_claim(User{"alice"}, "role", "hr");
  }
  assert allow(User{"alice"}, "read", Review{"eng-1"});
  assert allow(User{"alice"}, "read", Review{"sales-1"});
  assert_not allow(Agent{"ai-reporting-agent"}, "read:aggregate", HrReport{"q3"});
}

test "the agent reads aggregates only, for itself, and never a review" {
  setup {
    fixture reviews;
    request_caller(Agent{"ai-reporting-agent"});
    has_claim(User{"alice"}, "role", "hr");
  }
  assert allow(Agent{"ai-reporting-agent"}, "read:aggregate", HrReport{"q3"});
  assert has_permission(Agent{"ai-reporting-agent"}, action: String, HrReport{"q3"}) iff action in ["read:aggregate"];
  assert_not allow(User{"alice"}, "read", Review{"eng-1"});
}

test "the agent acting for a user gets nothing" {
  setup {
    request_caller(Agent{"ai-reporting-agent"});
    request_on_behalf_of(User{"alice"});
    has_claim(User{"alice"}, "role", "hr");
  }
  assert_not allow(Agent{"ai-reporting-agent"}, "read:aggregate", HrReport{"q3"});
  assert_not allow(User{"alice"}, "read", Review{"eng-1"});
}
