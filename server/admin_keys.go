package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/castellan-authz/castellan/store"
)

// keyInfo is a key as GET /admin/v1/keys lists it (never its secret).
type keyInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Scope     string `json:"scope"`
	CreatedAt string `json:"created_at"`
}

// createdKey is the answer of POST /admin/v1/keys: the only time the
// secret is shown.
type createdKey struct {
	keyInfo
	Key string `json:"key"`
}

func toKeyInfo(k store.Key) keyInfo {
	return keyInfo{ID: k.ID, Name: k.Name, Scope: k.Scope, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339)}
}

// maxKeyNameLen bounds a key's name.
const maxKeyNameLen = 200

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name  string `json:"name"`
		Scope string `json:"scope"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if len(req.Name) > maxKeyNameLen {
		writeError(w, r, badRequest("name: %d bytes exceed the limit of %d", len(req.Name), maxKeyNameLen))
		return
	}
	scope, err := parseScope(req.Scope)
	if err != nil {
		writeError(w, r, err)
		return
	}
	id, secret, hash, err := newKey()
	if err != nil {
		writeError(w, r, err)
		return
	}
	k := store.Key{ID: id, Name: req.Name, Scope: string(scope), Hash: hash, CreatedAt: s.now().UTC().Truncate(time.Second)}
	if err := s.keys.CreateKey(r.Context(), k); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdKey{keyInfo: toKeyInfo(k), Key: secret})
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.keys.ListKeys(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Keys []keyInfo `json:"keys"`
	}{Keys: make([]keyInfo, len(keys))}
	for i, k := range keys {
		out.Keys[i] = toKeyInfo(k)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := s.keys.DeleteKey(r.Context(), id); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, message{Message: "key " + id + " deleted"})
}
