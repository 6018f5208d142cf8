package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// API keys look like cst_<id>_<secret>: id is 16 hex digits (the key's
// public name, used to find it in the store), secret is 32 random bytes in
// unpadded base64url. The store keeps only SHA-256(secret).

// Scope is what an API key may do. Each scope includes the ones below it.
type Scope string

// Scopes, from most to least powerful.
const (
	ScopeAdmin Scope = "admin" // everything: policies, keys, rollback
	ScopeWrite Scope = "write" // read + fact writes and clear_data
	ScopeRead  Scope = "read"  // questions: authorize, list, query, reads
)

// rank orders scopes; an unknown scope ranks below read.
func (s Scope) rank() int {
	switch s {
	case ScopeAdmin:
		return 3
	case ScopeWrite:
		return 2
	case ScopeRead:
		return 1
	}
	return 0
}

// Allows reports whether a key of scope s may do what needs scope need.
func (s Scope) Allows(need Scope) bool { return s.rank() >= need.rank() && need.rank() > 0 }

// parseScope validates a scope name.
func parseScope(s string) (Scope, error) {
	sc := Scope(s)
	if sc.rank() == 0 {
		return "", badRequest("scope: %q is not a scope; use admin, write or read", s)
	}
	return sc, nil
}

// keyPrefix starts every Castellan API key.
const keyPrefix = "cst_"

// DevToken is the Oso dev-server test token, accepted with full scope in
// dev mode so existing SDK test suites run unchanged.
const DevToken = "e_0123456789_12345_osotesttoken01xiIn"

// newKey returns a new key id, the secret key to hand out once, and the
// hash to store.
func newKey() (id, key string, hash []byte, err error) {
	var idb [8]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", nil, fmt.Errorf("generating key id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", "", nil, fmt.Errorf("generating key secret: %w", err)
	}
	id = hex.EncodeToString(idb[:])
	s := base64.RawURLEncoding.EncodeToString(secret[:])
	h := sha256.Sum256([]byte(s))
	return id, keyPrefix + id + "_" + s, h[:], nil
}

// splitKey returns the id and secret of a cst_ key.
func splitKey(key string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || !isHex(id) || secret == "" {
		return "", "", false
	}
	return id, secret, true
}

// isHex reports whether s is lowercase hex digits, as newKey writes ids.
func isHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// hashMatches reports, in constant time, whether SHA-256(secret) is hash.
func hashMatches(secret string, hash []byte) bool {
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

// hashSecret returns SHA-256(secret).
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
