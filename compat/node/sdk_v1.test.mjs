// Drives a running `castellan serve` through the last 1.x release of the
// official Oso Cloud Node SDK (npm oso-cloud 1.6.1, installed under the
// alias oso-cloud-v1). Applications that have not moved to 2.x still call
// the older endpoints this SDK uses: POST and DELETE /api/facts,
// /api/bulk_load, /api/bulk_delete, /api/bulk, /api/authorize_resources,
// /api/bulk_actions, /api/query (Query v1) and /api/stats. Start from an
// empty server:
//
//   OSO_URL=http://127.0.0.1:8080 node --test compat/node/sdk_v1.test.mjs
import { test, before } from "node:test";
import assert from "node:assert/strict";
import osoV1 from "oso-cloud-v1";
import { POLICY } from "./policy.mjs";

const { Oso } = osoV1;

const url = process.env.OSO_URL;
const apiKey = process.env.OSO_AUTH ?? "e_0123456789_12345_osotesttoken01xiIn";
if (!url) {
  throw new Error("OSO_URL must point at a running castellan serve");
}

const client = new Oso(url, apiKey);

const user = (id) => ({ type: "User", id });
const org = (id) => ({ type: "Organization", id });
const repo = (id) => ({ type: "Repository", id });

// The 1.x SDK returns String arguments as plain strings.
const sortFacts = (facts) =>
  [...facts].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

before(async () => {
  await client.policy(POLICY);
});

test("v1 tell echoes the fact, get and delete", async () => {
  assert.deepEqual(await client.tell("has_role", user("alice"), "owner", org("acme")), [
    "has_role",
    user("alice"),
    "owner",
    org("acme"),
  ]);
  await client.tell("has_role", user("bob"), "member", org("acme"));
  await client.tell("has_relation", repo("anvil"), "parent", org("acme"));
  await client.tell("has_role", user("carol"), "reader", repo("anvil"));

  assert.deepEqual(
    sortFacts(await client.get("has_role", null, null, org("acme"))),
    sortFacts([
      ["has_role", user("alice"), "owner", org("acme")],
      ["has_role", user("bob"), "member", org("acme")],
    ]),
  );
  assert.deepEqual(await client.get("has_role", { type: "User" }, "reader", null), [
    ["has_role", user("carol"), "reader", repo("anvil")],
  ]);

  await client.delete("has_role", user("carol"), "reader", repo("anvil"));
  assert.deepEqual(await client.get("has_role", user("carol"), null, null), []);
  // Deleting what does not exist is not an error.
  await client.delete("has_role", user("carol"), "reader", repo("anvil"));
});

test("v1 bulkTell, bulkDelete with wildcards, bulk", async () => {
  await client.bulkTell([
    ["has_role", user("dave"), "reader", repo("b1")],
    ["has_role", user("dave"), "reader", repo("b2")],
    ["has_role", user("dave"), "maintainer", repo("b3")],
    ["has_role", user("erin"), "reader", repo("b1")],
  ]);
  assert.equal((await client.get("has_role", user("dave"), null, null)).length, 3);

  await client.bulkDelete([["has_role", user("dave"), "reader", null]]);
  assert.deepEqual(await client.get("has_role", user("dave"), null, null), [
    ["has_role", user("dave"), "maintainer", repo("b3")],
  ]);

  // Deletes are applied before tells.
  await client.bulk(
    [["has_role", user("erin"), null, null]],
    [["has_role", user("erin"), "maintainer", repo("b2")]],
  );
  assert.deepEqual(await client.get("has_role", user("erin"), null, null), [
    ["has_role", user("erin"), "maintainer", repo("b2")],
  ]);
});

test("v1 authorize, with context facts", async () => {
  assert.equal(await client.authorize(user("alice"), "push", repo("anvil")), true);
  assert.equal(await client.authorize(user("bob"), "push", repo("anvil")), false);
  assert.equal(await client.authorize(user("bob"), "read", repo("anvil")), true);
  const ctx = [["has_relation", repo("ctx"), "parent", org("acme")]];
  assert.equal(await client.authorize(user("alice"), "push", repo("ctx")), false);
  assert.equal(await client.authorize(user("alice"), "push", repo("ctx"), ctx), true);
  assert.deepEqual(await client.get("has_relation", repo("ctx"), null, null), []);
});

test("v1 authorizeResources keeps the order of the allowed resources", async () => {
  assert.deepEqual(
    await client.authorizeResources(user("alice"), "push", [repo("nope"), repo("anvil"), repo("b3"), repo("ctx")]),
    [repo("anvil")],
  );
  assert.deepEqual(
    await client.authorizeResources(
      user("dave"),
      "push",
      [repo("b3"), repo("anvil"), repo("ctx")],
      [["has_relation", repo("ctx"), "parent", org("acme")]],
    ),
    [repo("b3")],
  );
  assert.deepEqual(
    await client.authorizeResources(
      user("alice"),
      "push",
      [repo("b3"), repo("ctx"), repo("anvil")],
      [["has_relation", repo("ctx"), "parent", org("acme")]],
    ),
    [repo("ctx"), repo("anvil")],
  );
  assert.deepEqual(await client.authorizeResources(user("alice"), "push", []), []);
});

test("v1 list, actions and bulkActions", async () => {
  assert.deepEqual((await client.list(user("alice"), "push", "Repository")).sort(), ["anvil"]);
  assert.deepEqual(
    (
      await client.list(user("alice"), "push", "Repository", [["has_relation", repo("ctx"), "parent", org("acme")]])
    ).sort(),
    ["anvil", "ctx"],
  );
  assert.deepEqual((await client.actions(user("alice"), repo("anvil"))).sort(), ["delete", "push", "read"]);
  const bulk = await client.bulkActions(user("dave"), [repo("b3"), repo("anvil"), repo("b1")]);
  assert.deepEqual(
    bulk.map((actions) => [...actions].sort()),
    [["delete", "push", "read"], [], []],
  );
});

test("v1 query returns the matching derived facts", async () => {
  assert.deepEqual(
    sortFacts(await client.query("allow", user("alice"), { type: "String" }, repo("anvil"))),
    sortFacts([
      ["allow", user("alice"), "delete", repo("anvil")],
      ["allow", user("alice"), "push", repo("anvil")],
      ["allow", user("alice"), "read", repo("anvil")],
    ]),
  );
  assert.deepEqual(await client.query("has_role", { type: "User" }, "owner", org("acme")), [
    ["has_role", user("alice"), "owner", org("acme")],
  ]);
  assert.deepEqual(
    await client.query_with_context(["has_permission", user("frank"), "push", { type: "Repository" }], {
      contextFacts: [["has_role", user("frank"), "maintainer", repo("q1")]],
    }),
    [["has_permission", user("frank"), "push", repo("q1")]],
  );
});

test("v1 stats", async () => {
  const stats = await client.api.getStats();
  assert.deepEqual(Object.keys(stats).sort(), ["num_facts", "num_relations", "num_roles"]);
  assert.ok(stats.num_facts >= 5, `num_facts ${stats.num_facts}`);
});

test("v1 errors carry the server's message", async () => {
  await assert.rejects(client.tell("does_not_exist", user("x"), repo("y")), /^Error: Oso Cloud error: .*does_not_exist/);
  await assert.rejects(client.policy("resource {"), /^Error: Oso Cloud error: ./);
  assert.equal(await client.authorize(user("alice"), "push", repo("anvil")), true);
});
