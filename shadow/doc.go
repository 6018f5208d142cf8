// Package shadow evaluates a candidate policy next to the live one, before
// it goes live, so that a policy change can be reviewed by what it would
// decide rather than by its text.
//
// Two ways, one comparison. Replay (castellan policy preview, POST
// /api/policy/preview) takes the last decisions of the decision log
// (package audit: a file log, the PostgreSQL decisions table, or records
// given by the caller), turns each record back into its question
// (authorize, authorize_resources, actions, list; the context facts the
// record kept; the on-behalf-of user) and asks it under both policies over
// the current stored facts. Every question whose answer differs becomes a
// Change: actor, action, resource, before -> after, and the rule
// responsible, taken from the evaluator's explanation on the side that
// allowed: the outermost rule of the derivation the other policy does not
// have (Responsible). Records that cannot be replayed
// (queries, searches, local authorization, errors) are counted as skipped,
// by endpoint, with the reason.
//
// A Runner (castellan policy shadow, /admin/v1/policy/shadow) does the same
// on live traffic for a period: the server offers it each authorize it
// answered under the live policy, with the snapshot and context it was
// answered with; a bounded queue and one worker evaluate the candidate off
// the request path. Offer never blocks: when the queue is full the
// question is dropped and counted. Answers are never changed or delayed.
//
// The package reads records with encoding/json, which package policy may
// not import (internal/layering); it compiles nothing itself: candidates
// are *policy.Compiled.
package shadow
