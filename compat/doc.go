// Package compat proves that Castellan is a drop-in replacement for Oso Cloud
// by driving a real `castellan serve` through the official Oso Cloud SDKs.
//
// It has no code of its own, only tests. TestNodeSDK builds the castellan
// binary, starts `castellan serve --dev` on a free loopback port, installs the
// npm package oso-cloud at the exact version pinned in node/package.json (with
// node/package-lock.json, by `npm ci` in a temporary copy) and runs
// node/sdk.test.mjs with OSO_URL pointing at the server and the Oso dev-server
// test token as the API key. The JavaScript test uses the SDK as an
// application would: policy upload and metadata, insert, batch, get, delete,
// authorize with and without context facts, actions, paginated list, the
// query builder and error reporting. node/local.test.mjs does local
// authorization the same way: the SDK reads a data-bindings file
// (localauth/testdata/app.yaml), and the SQL of authorizeLocal, listLocal
// and actionsLocal runs on a PostgreSQL database (store/pgtest, with the
// schema of localauth/testdata and a small world) through the pg package,
// checked against authorize, list and actions given the same rows as
// context facts.
//
// Without node, npm or PostgreSQL the test is skipped, except under
// CI=true, where it fails.
//
// The Go SDK (github.com/osohq/go-oso-cloud) cannot be fetched through the
// module proxy, so gosdk_test.go replays on the wire what its integration
// tests (v2 and v1) send to an Oso dev server, with the SDK's headers,
// bodies and OsoOffset echo, against an in-process server (memory store,
// and PostgreSQL when CASTELLAN_TEST_DATABASE_URL is set), and asserts
// what those tests assert, each scenario on a fresh server and every suite
// in the SDK's order on one server.
package compat
