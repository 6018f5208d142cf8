// Local authorization through the official Oso Cloud Node SDK (npm
// oso-cloud 2.6.0): authorizeLocal, listLocal and actionsLocal return SQL;
// this test runs it on a real PostgreSQL database holding the application's
// rows and checks every answer against authorize, list and actions asked
// with the same rows as context facts.
//
//   OSO_URL=http://127.0.0.1:8080 LOCAL_DATABASE_URL=postgres://... \
//   LOCAL_POLICY=localauth/testdata/app.polar LOCAL_BINDINGS=localauth/testdata/app.yaml \
//     node --test compat/node/local.test.mjs
//
// compat/compat_test.go creates the database (the schema of
// localauth/testdata/schema.sql and a small world: folders nested three
// deep, a cycle, public issues, a creator id with a quote), starts the
// server and sets these variables.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import oso from "oso-cloud";
import pg from "pg";

const { Oso } = oso;

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (see the comment at the top of local.test.mjs)`);
  return v;
};
const url = env("OSO_URL");
const apiKey = process.env.OSO_AUTH ?? "e_0123456789_12345_osotesttoken01xiIn";
const bindingsFile = env("LOCAL_BINDINGS");

// The application's client reads the bindings file, as the SDK docs say;
// plain asks the centralized endpoints.
const local = new Oso(url, apiKey, { dataBindings: bindingsFile });
const plain = new Oso(url, apiKey);
const db = new pg.Client({ connectionString: env("LOCAL_DATABASE_URL") });

const tables = { Issue: "issues", Repository: "repositories", Folder: "folders", Organization: "organizations" };
const users = ["alice", "bob", "carol", "dave", "o'brien", "zeus", "nobody"];
const actions = ["read", "comment", "close", "write", "manage"];

// bindings returns the signatures and queries of the bindings file: each
// signature line ("  pred(Type:_, const, ...):") followed by its query.
function bindings(src) {
  const out = [];
  let sig = null;
  for (const line of src.split("\n")) {
    const s = line.match(/^\s+(\w+)\((.*)\):\s*$/);
    if (s) {
      sig = { pred: s[1], args: s[2].split(",").map((a) => a.trim()) };
      continue;
    }
    const q = line.match(/^\s+query:\s*(.+)$/);
    if (q && sig) {
      out.push({ ...sig, query: q[1] });
      sig = null;
    }
  }
  return out;
}

// rowsAsFacts runs every binding's query and turns each row into the fact
// it stands for: the application's data as context facts.
async function rowsAsFacts() {
  const facts = [];
  for (const b of bindings(readFileSync(bindingsFile, "utf8"))) {
    const { rows } = await db.query({ text: b.query, rowMode: "array" });
    for (const row of rows) {
      let col = 0;
      const args = b.args.map((a) => {
        const [type, value] = a.includes(":") ? a.split(":") : ["String", a];
        if (value !== "_") return type === "String" ? value : { type, id: value };
        const v = String(row[col++]);
        return type === "String" ? v : { type, id: v };
      });
      facts.push([b.pred, ...args]);
    }
  }
  return facts;
}

async function sqlStrings(sql) {
  const { rows } = await db.query({ text: sql, rowMode: "array" });
  return rows.map((r) => String(r[0])).sort();
}

let context; // the rows of the database as context facts
const ids = {}; // every id of each table

before(async () => {
  await db.connect();
  await plain.policy(readFileSync(env("LOCAL_POLICY"), "utf8"));
  const role = (u, r, type, id) => ["has_role", { type: "User", id: u }, r, { type, id }];
  await plain.batch((tx) => {
    tx.insert(role("alice", "member", "Organization", "1"));
    tx.insert(role("bob", "viewer", "Folder", "1"));
    tx.insert(role("carol", "reader", "Repository", "4"));
    tx.insert(role("dave", "maintainer", "Repository", "2"));
    tx.insert(role("nobody", "viewer", "Folder", "5"));
    tx.insert(["is_god", { type: "User", id: "zeus" }]);
  });
  context = await rowsAsFacts();
  for (const [type, table] of Object.entries(tables)) {
    ids[type] = await sqlStrings(`SELECT id::text FROM ${table}`);
  }
});

after(async () => {
  await db.end();
});

test("listLocal gives the rows list gives with the rows as context facts", async () => {
  for (const u of users) {
    const user = { type: "User", id: u };
    for (const [type, table] of Object.entries(tables)) {
      for (const action of actions) {
        const cond = await local.listLocal(user, action, type, `${table}.id`);
        const got = await sqlStrings(`SELECT id FROM ${table} WHERE ${cond}`);
        let want = await plain.list(user, action, type, context);
        if (want.includes("*")) want = ids[type];
        assert.deepEqual(got, [...want].sort(), `listLocal(${u}, ${action}, ${type}):\n${cond}`);
      }
    }
  }
});

// pairs gives every user with every row of every table.
function* pairs() {
  for (const u of users) {
    for (const type of Object.keys(tables)) {
      for (const id of ids[type]) yield [u, { type: "User", id: u }, { type, id }];
    }
  }
}

test("authorizeLocal decides as authorize with the rows as context facts", async () => {
  for (const [u, user, resource] of pairs()) {
    for (const action of actions) {
      const sql = await local.authorizeLocal(user, action, resource);
      const { rows } = await db.query(sql);
      assert.equal(rows.length, 1, sql);
      const want = await plain.authorize(user, action, resource, context);
      assert.equal(rows[0].allowed, want, `authorizeLocal(${u}, ${action}, ${resource.type}:${resource.id}):\n${sql}`);
    }
  }
});

test("actionsLocal gives the actions actions gives with the rows as context facts", async () => {
  for (const [u, user, resource] of pairs()) {
    const sql = await local.actionsLocal(user, resource);
    const { rows } = await db.query(sql);
    const got = rows.map((r) => r.actions).sort();
    const want = await plain.actions(user, resource, context);
    assert.deepEqual(got, [...want].sort(), `actionsLocal(${u}, ${resource.type}:${resource.id}):\n${sql}`);
  }
});

test("context facts and parity handles go with the local calls", async () => {
  const erin = { type: "User", id: "erin" };
  const issue = { type: "Issue", id: "1" };
  const reader = ["has_role", erin, "member", { type: "Organization", id: "1" }];
  const allowed = async (sql) => (await db.query(sql)).rows[0].allowed;
  assert.equal(await allowed(await local.authorizeLocal(erin, "read", issue)), false);
  // The array form and the options form of the fourth argument.
  assert.equal(
    await allowed(await local.authorizeLocal(erin, "read", issue, [reader])),
    await plain.authorize(erin, "read", issue, [reader, ...context]),
  );
  const handle = new oso.ParityHandle();
  const sql = await local.authorizeLocal(erin, "read", issue, { contextFacts: [reader], parityHandle: handle });
  assert.equal(await allowed(sql), await plain.authorize(erin, "read", issue, [reader, ...context]));
  assert.ok(handle.requestId, "authorize_query answered without X-Request-ID: the parity handle has no request id");
  const cond = await local.listLocal(erin, "read", "Issue", "issues.id", [reader]);
  assert.deepEqual(
    await sqlStrings(`SELECT id FROM issues WHERE ${cond}`),
    [...(await plain.list(erin, "read", "Issue", [reader, ...context]))].sort(),
  );
  const acts = await db.query(await local.actionsLocal(erin, issue, [reader]));
  assert.deepEqual(acts.rows.map((r) => r.actions).sort(), [...(await plain.actions(erin, issue, [reader, ...context]))].sort());
});

test("errors: no bindings file, and a bindings file the policy cannot use", async () => {
  const alice = { type: "User", id: "alice" };
  await assert.rejects(plain.authorizeLocal(alice, "read", { type: "Issue", id: "1" }), /Data bindings file missing/);
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const bad = join(mkdtempSync(join(tmpdir(), "castellan-")), "bad.yaml");
  writeFileSync(bad, "facts:\n  is_shiny(Issue:_):\n    query: SELECT id FROM issues\n");
  const client = new Oso(url, apiKey, { dataBindings: bad });
  await assert.rejects(client.listLocal(alice, "read", "Issue", "issues.id"), (e) => {
    assert.equal(e.statusCode, 400);
    assert.match(e.message, /is_shiny/);
    return true;
  });
});
