# ReBAC user-resource relations: relations to actors grant permissions
# directly, or through a related resource's relation.
actor User {}

resource Repository {
  permissions = ["read", "triage"];
  relations = { owner: User, triager: User };
  "read" if "owner";
  "triage" if "triager";
  "triage" if "owner";
}

resource PullRequest {
  permissions = ["read", "merge", "comment"];
  relations = { repository: Repository, author: User, reviewer: User };
  "read" if "read" on "repository";
  "comment" if "author";
  "comment" if "reviewer";
  "merge" if "owner" on "repository";
}

test "authors comment, owners merge" {
  setup {
    has_relation(Repository{"r"}, "owner", User{"own"});
    has_relation(PullRequest{"1"}, "repository", Repository{"r"});
    has_relation(PullRequest{"1"}, "author", User{"auth"});
  }
  assert allow(User{"own"}, "merge", PullRequest{"1"});
  assert allow(User{"auth"}, "comment", PullRequest{"1"});
  assert_not allow(User{"auth"}, "merge", PullRequest{"1"});
}
