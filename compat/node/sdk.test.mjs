// Drives a running `castellan serve` through the official Oso Cloud Node SDK
// (npm oso-cloud 2.6.0, pinned in package.json), exactly as an application
// would. Start from an empty server:
//
//   OSO_URL=http://127.0.0.1:8080 OSO_AUTH=e_0123456789_12345_osotesttoken01xiIn \
//     node --test compat/node/sdk.test.mjs
//
// The tests run in order against one server and share its state; each test
// uses its own actors and resources so that a failure names one feature.
// compat/compat_test.go builds the binary, starts a server for each SDK
// test file and runs it.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import oso from "oso-cloud";
import { POLICY } from "./policy.mjs";

const { Oso, typedVar } = oso;

const url = process.env.OSO_URL;
const apiKey = process.env.OSO_AUTH ?? "e_0123456789_12345_osotesttoken01xiIn";
if (!url) {
  throw new Error("OSO_URL must point at a running castellan serve");
}

const client = new Oso(url, apiKey);

const user = (id) => ({ type: "User", id });
const org = (id) => ({ type: "Organization", id });
const repo = (id) => ({ type: "Repository", id });

// sortFacts orders facts (as returned by oso.get) for comparison.
const sortFacts = (facts) =>
  [...facts].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

// rejectsWithStatus asserts that promise rejects with an Oso error whose
// HTTP status is in [400, 500) and returns the error.
async function rejectsWithStatus(promise) {
  let err;
  await assert.rejects(promise, (e) => {
    err = e;
    return true;
  });
  assert.ok(
    err.statusCode >= 400 && err.statusCode < 500,
    `want a 4xx status, got ${err.statusCode}: ${err.message}`,
  );
  assert.match(err.message, /^Oso Cloud error: /);
  // The SDK reads the message from the JSON body and the request id from
  // the X-Request-ID response header.
  assert.doesNotMatch(err.message, /\(Request ID: null\)$/, "response has no X-Request-ID");
  return err;
}

before(async () => {
  await client.policy(POLICY);
});

test("policy: upload and metadata", async () => {
  const metadata = await client.getPolicyMetadata();
  assert.deepEqual(metadata.resources.Organization, {
    roles: ["member", "owner"],
    permissions: ["create_repository", "delete", "read"],
    relations: {},
  });
  assert.deepEqual(metadata.resources.Repository, {
    roles: ["maintainer", "reader"],
    permissions: ["delete", "push", "read"],
    relations: { parent: "Organization" },
  });
  assert.deepEqual(metadata.resources.User, { roles: [], permissions: [], relations: {} });

  // Uploading the same policy again is accepted.
  await client.policy(POLICY);
  const policy = await client.api.getPolicy();
  assert.equal(policy.policy.src, POLICY);
});

test("policy: an invalid policy is rejected and the live one stays", async () => {
  await client.insert(["has_role", user("pol-owner"), "owner", org("pol-org")]);

  const syntax = await rejectsWithStatus(client.policy("actor User {}\nresource Repository {\n  roles = [\"reader\"\n}\n"));
  assert.ok(syntax.message.length > "Oso Cloud error: ".length);

  const unknownRole = await rejectsWithStatus(
    client.policy(`actor User {}
resource Organization {
  roles = ["member"];
  permissions = ["read"];
  "read" if "memebr";
}
`),
  );
  assert.match(unknownRole.message, /memebr/);

  const failingTest = await rejectsWithStatus(
    client.policy(POLICY.replace(`assert_not allow(User{"u"}`, `assert allow(User{"u"}`)),
  );
  assert.match(failingTest.message, /owners push to the repositories of their organization|test/i);

  assert.equal(await client.authorize(user("pol-owner"), "delete", org("pol-org")), true);
  const policy = await client.api.getPolicy();
  assert.equal(policy.policy.src, POLICY);
});

test("facts: insert and get with wildcards", async () => {
  await client.insert(["has_role", user("alice"), "owner", org("acme")]);
  await client.insert(["has_role", user("bob"), "member", org("acme")]);
  await client.insert(["has_role", user("alice"), "member", org("bigco")]);
  await client.insert(["has_relation", repo("anvil"), "parent", org("acme")]);
  // Telling the same fact twice keeps one.
  await client.insert(["has_role", user("alice"), "owner", org("acme")]);

  assert.deepEqual(await client.get(["has_role", user("alice"), "owner", org("acme")]), [
    ["has_role", user("alice"), { type: "String", id: "owner" }, org("acme")],
  ]);
  assert.deepEqual(
    sortFacts(await client.get(["has_role", user("alice"), null, null])),
    sortFacts([
      ["has_role", user("alice"), { type: "String", id: "owner" }, org("acme")],
      ["has_role", user("alice"), { type: "String", id: "member" }, org("bigco")],
    ]),
  );
  assert.deepEqual(
    sortFacts(await client.get(["has_role", null, null, org("acme")])),
    sortFacts([
      ["has_role", user("alice"), { type: "String", id: "owner" }, org("acme")],
      ["has_role", user("bob"), { type: "String", id: "member" }, org("acme")],
    ]),
  );
  // A type with a null id matches any id of that type.
  assert.deepEqual(
    sortFacts(await client.get(["has_role", { type: "User" }, "member", { type: "Organization", id: null }])),
    sortFacts([
      ["has_role", user("bob"), { type: "String", id: "member" }, org("acme")],
      ["has_role", user("alice"), { type: "String", id: "member" }, org("bigco")],
    ]),
  );
  // Trailing wildcards can be left out.
  assert.deepEqual(await client.get(["has_relation", repo("anvil")]), [
    ["has_relation", repo("anvil"), { type: "String", id: "parent" }, org("acme")],
  ]);
  assert.deepEqual(await client.get(["has_role", user("nobody"), null, null]), []);
});

test("facts: booleans and integers round-trip", async () => {
  await client.insert(["is_public", repo("pub"), true]);
  assert.deepEqual(await client.get(["is_public", repo("pub"), null]), [
    ["is_public", repo("pub"), { type: "Boolean", id: "true" }],
  ]);
  assert.equal(await client.authorize(user("stranger"), "read", repo("pub")), true);
  assert.equal(await client.authorize(user("stranger"), "push", repo("pub")), false);
});

test("facts: batch applies inserts and deletes in order", async () => {
  await client.batch((tx) => {
    tx.insert(["has_role", user("carol"), "reader", repo("batch-1")]);
    tx.insert(["has_role", user("carol"), "reader", repo("batch-2")]);
    tx.insert(["has_role", user("carol"), "maintainer", repo("batch-3")]);
    tx.delete(["has_role", user("carol"), "reader", repo("batch-2")]);
    tx.insert(["has_role", user("dave"), "reader", repo("batch-1")]);
  });
  assert.deepEqual(
    sortFacts(await client.get(["has_role", null, null, { type: "Repository" }])).filter((f) =>
      f[3].id.startsWith("batch-"),
    ),
    sortFacts([
      ["has_role", user("carol"), { type: "String", id: "reader" }, repo("batch-1")],
      ["has_role", user("carol"), { type: "String", id: "maintainer" }, repo("batch-3")],
      ["has_role", user("dave"), { type: "String", id: "reader" }, repo("batch-1")],
    ]),
  );

  // A wildcard delete followed by an insert in one batch.
  await client.batch(async (tx) => {
    tx.delete(["has_role", user("carol"), null, null]);
    tx.insert(["has_role", user("carol"), "reader", repo("batch-4")]);
  });
  assert.deepEqual(await client.get(["has_role", user("carol"), null, null]), [
    ["has_role", user("carol"), { type: "String", id: "reader" }, repo("batch-4")],
  ]);
});

test("facts: a batch with one bad fact writes nothing", async () => {
  const err = await rejectsWithStatus(
    client.batch((tx) => {
      tx.insert(["has_role", user("erin"), "reader", repo("atomic")]);
      tx.insert(["does_not_exist", user("erin"), repo("atomic")]);
    }),
  );
  assert.match(err.message, /does_not_exist/);
  assert.deepEqual(await client.get(["has_role", user("erin"), null, null]), []);
});

test("facts: bad facts are rejected with a message", async () => {
  const unknown = await rejectsWithStatus(client.insert(["does_not_exist", user("x"), repo("y")]));
  assert.match(unknown.message, /does_not_exist/);
  assert.deepEqual(await client.get(["does_not_exist"]), []);

  // has_relation's parent must be an Organization.
  await rejectsWithStatus(client.insert(["has_relation", repo("bad"), "parent", user("x")]));
  assert.deepEqual(await client.get(["has_relation", repo("bad")]), []);
});

test("facts: delete one fact and with wildcards", async () => {
  await client.batch((tx) => {
    tx.insert(["has_role", user("frank"), "reader", repo("del-1")]);
    tx.insert(["has_role", user("frank"), "reader", repo("del-2")]);
    tx.insert(["has_role", user("frank"), "maintainer", repo("del-3")]);
    tx.insert(["has_role", user("grace"), "reader", repo("del-1")]);
  });

  await client.delete(["has_role", user("frank"), "reader", repo("del-1")]);
  assert.deepEqual(
    sortFacts(await client.get(["has_role", user("frank"), null, null])),
    sortFacts([
      ["has_role", user("frank"), { type: "String", id: "reader" }, repo("del-2")],
      ["has_role", user("frank"), { type: "String", id: "maintainer" }, repo("del-3")],
    ]),
  );

  await client.delete(["has_role", user("frank"), null, { type: "Repository" }]);
  assert.deepEqual(await client.get(["has_role", user("frank"), null, null]), []);
  assert.equal((await client.get(["has_role", user("grace"), null, null])).length, 1);

  // Deleting what does not exist is not an error.
  await client.delete(["has_role", user("frank"), "reader", repo("del-1")]);
});

test("authorize: stored facts, allowed and denied", async () => {
  // alice owns acme, anvil's parent is acme; bob is a member of acme.
  const cases = [
    [user("alice"), "push", repo("anvil"), true],
    [user("alice"), "delete", org("acme"), true],
    [user("bob"), "read", repo("anvil"), true],
    [user("bob"), "push", repo("anvil"), false],
    [user("bob"), "delete", org("acme"), false],
    [user("alice"), "push", repo("unknown"), false],
    [user("nobody"), "read", org("acme"), false],
    [user("alice"), "no_such_action", repo("anvil"), false],
  ];
  for (const [actor, action, resource, want] of cases) {
    assert.equal(
      await client.authorize(actor, action, resource),
      want,
      `authorize(${actor.id}, ${action}, ${resource.type}:${resource.id})`,
    );
  }
});

test("authorize: context facts are used for one request and never stored", async () => {
  const parent = ["has_relation", repo("ctx-repo"), "parent", org("acme")];
  assert.equal(await client.authorize(user("alice"), "push", repo("ctx-repo")), false);
  assert.equal(await client.authorize(user("alice"), "push", repo("ctx-repo"), [parent]), true);
  assert.equal(
    await client.authorize(user("alice"), "push", repo("ctx-repo"), { contextFacts: [parent] }),
    true,
  );
  // A context fact can grant a role too.
  assert.equal(
    await client.authorize(user("helen"), "read", repo("ctx-repo"), [
      ["has_role", user("helen"), "reader", repo("ctx-repo")],
    ]),
    true,
  );
  assert.deepEqual(await client.get(["has_relation", repo("ctx-repo")]), []);
  assert.deepEqual(await client.get(["has_role", user("helen"), null, null]), []);
  assert.equal(await client.authorize(user("alice"), "push", repo("ctx-repo")), false);
});

test("actions: stored and context facts", async () => {
  assert.deepEqual((await client.actions(user("alice"), repo("anvil"))).sort(), ["delete", "push", "read"]);
  assert.deepEqual((await client.actions(user("bob"), repo("anvil"))).sort(), ["read"]);
  assert.deepEqual(await client.actions(user("nobody"), repo("anvil")), []);
  assert.deepEqual(
    (await client.actions(user("alice"), org("acme"))).sort(),
    ["create_repository", "delete", "read"],
  );
  assert.deepEqual(
    (
      await client.actions(user("bob"), repo("ctx-actions"), [
        ["has_relation", repo("ctx-actions"), "parent", org("acme")],
      ])
    ).sort(),
    ["read"],
  );
});

const MANY = 12000; // more than the SDK's page size of 10000

test("list: many results are paginated", async () => {
  await client.insert(["has_role", user("lister"), "member", org("bulk")]);
  await client.batch((tx) => {
    for (let i = 0; i < MANY; i++) {
      tx.insert(["has_relation", repo(`bulk-${i}`), "parent", org("bulk")]);
    }
  });
  // Every user may also read the public repository "pub".
  const want = [...Array.from({ length: MANY }, (_, i) => `bulk-${i}`), "pub"].sort();

  // list follows next_page_token itself (page size 10000).
  const all = await client.list(user("lister"), "read", "Repository");
  assert.equal(all.length, want.length);
  assert.deepEqual([...all].sort(), want);

  // Smaller pages: every page within the size, together all results once.
  const pageSize = 5000;
  const seen = [];
  let token = undefined;
  let pages = 0;
  do {
    const page = await client.listPaginated(user("lister"), "read", "Repository", pageSize, token);
    assert.ok(page.results.length <= pageSize, `page of ${page.results.length} > ${pageSize}`);
    seen.push(...page.results);
    token = page.nextPageToken ?? undefined;
    pages++;
    assert.ok(pages <= want.length / pageSize + 2, "pagination does not end");
  } while (token);
  assert.ok(pages >= 3, `want at least 3 pages of ${pageSize}, got ${pages}`);
  assert.deepEqual([...seen].sort(), want);

  assert.deepEqual(await client.list(user("lister"), "push", "Repository"), []);
  assert.deepEqual(await client.list(user("nobody"), "read", "Repository"), ["pub"]);
  assert.deepEqual(await client.list(user("nobody"), "read", "Organization"), []);
});

test("list: small results and context facts", async () => {
  assert.deepEqual((await client.list(user("alice"), "push", "Repository")).sort(), ["anvil"]);
  assert.deepEqual(await client.list(user("alice"), "delete", "Organization"), ["acme"]);
  assert.deepEqual(
    (
      await client.list(user("alice"), "push", "Repository", [
        ["has_relation", repo("ctx-list"), "parent", org("acme")],
      ])
    ).sort(),
    ["anvil", "ctx-list"],
  );
  assert.deepEqual((await client.list(user("alice"), "push", "Repository")).sort(), ["anvil"]);
});

test("query builder: evaluate, and, in, context facts", async () => {
  const r = typedVar("Repository");
  const a = typedVar("String");

  // A single variable.
  assert.deepEqual((await client.buildQuery(["allow", user("alice"), "push", r]).evaluate(r)).sort(), ["anvil"]);

  // No argument: does anything match?
  assert.equal(await client.buildQuery(["allow", user("alice"), "push", repo("anvil")]).evaluate(), true);
  assert.equal(await client.buildQuery(["allow", user("bob"), "push", repo("anvil")]).evaluate(), false);

  // and(): join with a fact.
  await client.insert(["has_relation", repo("qb-1"), "parent", org("acme")]);
  const o = typedVar("Organization");
  assert.deepEqual(
    (
      await client
        .buildQuery(["allow", user("bob"), "read", r])
        .and(["has_relation", r, "parent", o])
        .evaluate([r, o])
    ).sort(),
    [
      ["anvil", "acme"],
      ["qb-1", "acme"],
    ],
  );

  // in(): restrict a variable to a set of ids.
  assert.deepEqual(
    (
      await client
        .buildQuery(["allow", user("bob"), "read", r])
        .in(r, ["qb-1", "bulk-1", "nope"])
        .evaluate(r)
    ).sort(),
    ["qb-1"],
  );

  // Tuples and maps.
  assert.deepEqual(
    (await client.buildQuery(["allow", user("alice"), a, repo("anvil")]).evaluate(a)).sort(),
    ["delete", "push", "read"],
  );
  const byRepo = await client
    .buildQuery(["allow", user("alice"), a, r])
    .in(r, ["anvil", "qb-1"])
    .evaluate(new Map([[r, a]]));
  assert.deepEqual([...byRepo.keys()].sort(), ["anvil", "qb-1"]);
  assert.deepEqual([...byRepo.get("anvil")].sort(), ["delete", "push", "read"]);
  assert.deepEqual([...byRepo.get("qb-1")].sort(), ["delete", "push", "read"]);

  // Context facts.
  assert.deepEqual(
    (
      await client
        .buildQuery(["allow", user("ivan"), "read", r])
        .withContextFacts([["has_role", user("ivan"), "reader", repo("qb-ctx")]])
        .evaluate(r)
    ).sort(),
    ["pub", "qb-ctx"], // pub is public
  );

  // Querying a fact predicate directly.
  const u = typedVar("User");
  assert.deepEqual(
    (await client.buildQuery(["has_role", u, "owner", org("acme")]).evaluate(u)).sort(),
    ["alice"],
  );
});

test("query builder: a wildcard result is returned as *", async () => {
  // Every user may read a public repository: the User variable is unbound.
  const u = typedVar("User");
  assert.deepEqual(await client.buildQuery(["allow", u, "read", repo("pub")]).evaluate(u), ["*"]);
});

test("clear data removes every fact", async () => {
  await client.api.clearData();
  assert.deepEqual(await client.get(["has_role"]), []);
  assert.equal(await client.authorize(user("alice"), "push", repo("anvil")), false);
});
