// Package castellan is the Go client of the Castellan authorization service.
//
// Castellan speaks the Oso Cloud HTTP API (under /api), so this client uses
// the same wire format as the Oso Cloud SDKs, plus the AuthZEN 1.0
// Authorization API (under /access/v1: Evaluation, Evaluations and the
// searches) and Castellan's own administration endpoints (policy versions
// and API keys, under /admin/v1).
// It depends on the standard library only and shares no types with the
// server, so the two are kept honest by tests that run one against the other.
//
// A typical service tells Castellan the facts that several services need and
// asks questions, sending the facts only it holds as context facts:
//
//	c := castellan.New("http://localhost:8080", os.Getenv("CASTELLAN_API_KEY"))
//	bob := castellan.Entity("User", "bob")
//	anvil := castellan.Entity("Repository", "anvil")
//	err := c.Insert(ctx, castellan.NewFact("has_role", bob, castellan.String("maintainer"), anvil))
//	...
//	run := castellan.Entity("Action", "1")
//	d, err := c.Authorize(ctx, bob, "rerun", run, castellan.WithContextFacts(
//		castellan.NewFact("has_relation", run, castellan.String("repository"), anvil)))
//	if err == nil && d.Allowed { ... }
//
// Every write returns the revision it committed in the OsoOffset header; the
// client remembers the newest one and sends it with every later request, so
// a client always reads its own writes, even across server replicas.
//
// Errors returned by the server are *Error values (use errors.As); errors
// reaching the server (refused connections, DNS, timeouts) are returned as
// the *url.Error of net/http, wrapped, so callers can tell them apart.
package castellan
