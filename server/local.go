package server

import "net/http"

// handleLocalAuthorization answers Oso's "local authorization" endpoints
// (/api/authorize_query, /api/list_query, /api/actions_query and
// /api/evaluate_query_local) with 501. They turn a question into SQL for
// the application's own database from its data-bindings YAML; Castellan
// answers questions itself instead. A 501 with the envelope tells an SDK
// user what to call, where a 404 would look like a wrong base URL.
func handleLocalAuthorization(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errorf(http.StatusNotImplemented, codeNotImplemented,
		"local authorization (SQL generation from data bindings) is not supported by Castellan; use /api/authorize, /api/list, /api/actions or /api/evaluate_query"))
}
