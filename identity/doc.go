// Package identity verifies who is calling Castellan and for whom.
//
// A caller proves its identity with a JWT signed by a trusted issuer (a
// workload token: a service, a job, an AI agent); a service acting for an
// end user also presents that user's token (on-behalf-of). A Verifier
// holds the configured issuers (Config): for each, the JWKS it fetches,
// caches and refreshes when a token names an unknown key id (at most once
// per MinRefreshInterval), the audience, the allowed algorithms (never
// "none", never HMAC), the clock skew. Verify checks the signature, iss,
// aud, exp and nbf, and yields an Identity: the actor (the issuer's actor
// type, or the one a configured claim names, with the token's sub as id),
// the Castellan scope of a caller token, and the configured claims, which
// the server turns into the verified facts of the request
// (request_caller, request_on_behalf_of, has_claim).
//
// A workload may instead present an X.509 client certificate over mutual
// TLS: TLS verifies it against Config.ClientCA (ClientCAPool), and
// VerifyPeer identifies it by its SPIFFE ID (its single URI SAN), whose
// trust domain Config.TrustDomains maps to an actor type and a scope; the
// actor's id is the whole SPIFFE ID.
//
// A failure is an *Error naming the check that failed, never echoing the
// token. Verified tokens are cached until they expire, so a caller that
// reuses its token pays the signature check once.
//
// The package knows nothing of HTTP routing, Polar values or the store:
// the server decides where tokens come from and what their facts mean.
package identity
