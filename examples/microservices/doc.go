// Package microservices is the GitHub Actions scenario of Castellan, run by
// run.sh: the repositories command (the Repositories service) tells
// Castellan who maintains which repository, and the actions command (the
// Actions service) asks whether a user may rerun a CI action, sending the
// action's repository as a context fact that Castellan never stores.
// policy.polar is the policy both rely on.
package microservices
