package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// keyInfo is a key as GET /admin/v1/keys lists it (never its secret).
type keyInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Scope     string `json:"scope"`
	CreatedAt string `json:"created_at"`
	Caller    string `json:"caller,omitempty"`
}

// createdKey is the answer of POST /admin/v1/keys: the only time the
// secret is shown.
type createdKey struct {
	keyInfo
	Key string `json:"key"`
}

func toKeyInfo(k store.Key) keyInfo {
	return keyInfo{ID: k.ID, Name: k.Name, Scope: k.Scope, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339), Caller: k.Caller}
}

// maxKeyNameLen bounds a key's name.
const maxKeyNameLen = 200

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string `json:"name"`
		Scope  string `json:"scope"`
		Caller string `json:"caller"`
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
	boundTo, err := keyCaller(req.Caller)
	if err != nil {
		writeError(w, r, err)
		return
	}
	id, secret, hash, err := newKey()
	if err != nil {
		writeError(w, r, err)
		return
	}
	k := store.Key{ID: id, Name: req.Name, Scope: string(scope), Hash: hash, CreatedAt: s.now().UTC().Truncate(time.Second), Caller: boundTo}
	if err := s.store.CreateKey(r.Context(), k); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdKey{keyInfo: toKeyInfo(k), Key: secret})
}

// keyCaller validates the caller identity a key is bound to, "Type:id"
// ("" for none), and returns it in canonical form.
func keyCaller(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	typ, id, ok := strings.Cut(c, ":")
	if !ok {
		return "", badRequest("caller: %q is not Type:id (e.g. Service:billing)", c)
	}
	v, err := normalizeValue(typ, id, "caller")
	if err != nil {
		return "", err
	}
	if v.IsPrimitive() {
		return "", badRequest("caller: %q is not an entity type (e.g. Service:billing)", c)
	}
	return v.Type + ":" + v.ID, nil
}

// keyActor is the actor of a key bound to a caller identity (zero when
// the key has none).
func keyActor(k store.Key) term.Value {
	typ, id, ok := strings.Cut(k.Caller, ":")
	if !ok {
		return term.Value{}
	}
	return term.Entity(typ, id)
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.store.ListKeys(r.Context())
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
	if err := s.store.DeleteKey(r.Context(), id); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, message{Message: "key " + id + " deleted"})
}
