# GitClub jobs: who may view, cancel and restart CI jobs and their runs?
#
# Castellan stores who belongs to which organisation and which repository
# is in which organisation (the GitClub service tells them). Jobs and runs
# belong to the Jobs service: it sends, with each question, the facts about
# the job or run asked about (its repository, its job, its creator) as
# context facts, so Castellan never stores them.

actor User {}

resource Organization {
  roles = ["member", "admin"];

  "member" if "admin";
}

resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read"];
  relations = { organization: Organization };

  "read" if "reader";
  "reader" if "maintainer";
  "reader" if "member" on "organization";
  "maintainer" if "admin" on "organization";
}

# A job runs the CI of one repository: its readers view it, its
# maintainers cancel and restart it.
resource Job {
  permissions = ["view", "cancel", "restart"];
  relations = { repository: Repository };

  "view" if "reader" on "repository";
  "cancel" if "maintainer" on "repository";
  "restart" if "maintainer" on "repository";
}

# A run is one execution of a job: who may act on the job may act on its
# runs, and whoever started a run may cancel or restart it while they can
# still see it.
resource Run {
  permissions = ["view", "cancel", "restart"];
  relations = { job: Job, creator: User };

  "view" if "view" on "job";
  "cancel" if "cancel" on "job";
  "restart" if "restart" on "job";
  "cancel" if "creator" and "view";
  "restart" if "creator" and "view";
}

test "readers view, maintainers cancel and restart, creators act on their own runs" {
  setup {
    has_role(User{"alice"}, "admin", Organization{"acme"});
    has_role(User{"bob"}, "member", Organization{"acme"});
    has_relation(Repository{"anvil"}, "organization", Organization{"acme"});
    has_relation(Job{"build"}, "repository", Repository{"anvil"});
    has_relation(Run{"1"}, "job", Job{"build"});
    has_relation(Run{"2"}, "job", Job{"build"});
    has_relation(Run{"2"}, "creator", User{"bob"});
    has_relation(Run{"3"}, "job", Job{"build"});
    has_relation(Run{"3"}, "creator", User{"mallory"});
  }

  assert allow(User{"alice"}, "restart", Job{"build"});
  assert allow(User{"alice"}, "cancel", Run{"1"});
  assert allow(User{"bob"}, "view", Run{"1"});
  assert_not allow(User{"bob"}, "cancel", Run{"1"});
  assert allow(User{"bob"}, "cancel", Run{"2"});
  assert allow(User{"bob"}, "restart", Run{"2"});
  assert_not allow(User{"mallory"}, "cancel", Run{"3"});
}
