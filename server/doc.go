// Package server is Castellan's HTTP API: the Oso Cloud compatible API under
// /api, AuthZEN 1.0 under /access/v1, Castellan's own administration API
// under /admin/v1, and the operational endpoints /healthz, /readyz and
// /metrics.
//
// A request goes through one pipeline (Server.routes): request id and
// logger, access log and metrics, panic recovery, the in-flight and body
// size limits, authentication per route group (API key scopes, or dev
// mode), then a handler that
// decodes the body (size-limited, strict JSON), validates it against the
// configured limits, asks the evaluator or the store, and encodes the answer
// with exactly the keys the Oso SDKs expect. Every error becomes the one
// envelope {"message", "code", "details"} in one function (writeError);
// unknown errors are logged with the request id and answered as
// "internal error".
//
// The live policy is a *policy.Compiled kept by a policy.Manager: a policy
// upload compiles the files, runs the policy's tests on an isolated fact
// source, saves a new version in the store and swaps the live policy, so a
// request is answered wholly under the old policy or wholly under the new
// one. The server holds no policy logic of its own: it decodes, calls the
// manager and encodes (package policy).
//
// Consistency: every write answers with the new store revision in the
// OsoOffset header (a plain decimal number), and a read that sends OsoOffset
// is answered from a snapshot at least that fresh.
package server
