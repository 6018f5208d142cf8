// Package idptest is a real token issuer for tests and examples, in the
// manner of net/http/httptest: an HTTP server publishing a JWKS, and
// methods that mint tokens signed with its keys (ES256), including the
// malformed and malicious ones a verifier must refuse.
package idptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Issuer is a running issuer. URL is both its iss and the base of its
// JWKS (URL + "/jwks").
type Issuer struct {
	URL string

	srv     *httptest.Server
	fetches atomic.Int64

	mu        sync.Mutex
	signing   *key   // the key new tokens are signed with
	published []*key // the keys the JWKS publishes
}

type key struct {
	kid  string
	priv *ecdsa.PrivateKey
}

// New starts an issuer with one published signing key.
func New() *Issuer {
	i := &Issuer{}
	i.srv = httptest.NewServer(http.HandlerFunc(i.serveJWKS))
	i.URL = i.srv.URL
	k := newKey()
	i.signing, i.published = k, []*key{k}
	return i
}

// Close stops the issuer's server.
func (i *Issuer) Close() { i.srv.Close() }

// JWKSURL is the address of the issuer's JWKS.
func (i *Issuer) JWKSURL() string { return i.URL + "/jwks" }

// Fetches is how many times the JWKS was fetched.
func (i *Issuer) Fetches() int { return int(i.fetches.Load()) }

// Rotate makes a new key the signing key without publishing it yet (as an
// issuer that signs before its JWKS caches caught up), and returns its
// kid. Publish puts it in the JWKS.
func (i *Issuer) Rotate() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.signing = newKey()
	return i.signing.kid
}

// Publish adds the signing key to the JWKS (a no-op when it is there).
func (i *Issuer) Publish() {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.published {
		if k == i.signing {
			return
		}
	}
	i.published = append(i.published, i.signing)
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/jwks" {
		http.NotFound(w, r)
		return
	}
	i.fetches.Add(1)
	i.mu.Lock()
	set := jwkset.NewMemoryStorage()
	for _, k := range i.published {
		j, err := jwkset.NewJWKFromKey(&k.priv.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.AlgES256, USE: jwkset.UseSig}})
		if err == nil {
			err = set.KeyWrite(r.Context(), j)
		}
		if err != nil {
			i.mu.Unlock()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	i.mu.Unlock()
	raw, err := set.JSONPublic(context.WithoutCancel(r.Context()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

var kids atomic.Int64

func newKey() *key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("idptest: generating a key: %v", err))
	}
	return &key{kid: fmt.Sprintf("key-%d", kids.Add(1)), priv: priv}
}

// Claims are a token's claims. Mint fills iss (the issuer's URL), iat and
// exp (an hour from now) unless they are set; a nil value removes one.
type Claims map[string]any

func (i *Issuer) claims(c Claims) jwt.MapClaims {
	now := time.Now()
	out := jwt.MapClaims{"iss": i.URL, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range c {
		if v == nil {
			delete(out, k)
			continue
		}
		if t, ok := v.(time.Time); ok {
			v = t.Unix()
		}
		out[k] = v
	}
	return out
}

// Mint returns a token with claims c signed by the signing key (ES256).
func (i *Issuer) Mint(c Claims) string {
	i.mu.Lock()
	k := i.signing
	i.mu.Unlock()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, i.claims(c))
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.priv)
	if err != nil {
		panic(fmt.Sprintf("idptest: signing: %v", err))
	}
	return s
}

// MintNone returns an unsigned token (alg "none") with claims c.
func (i *Issuer) MintNone(c Claims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, i.claims(c)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		panic(fmt.Sprintf("idptest: signing: %v", err))
	}
	return s
}

// MintHMACWithPublicKey returns the algorithm-confusion attack: a token
// signed with HS256 using the issuer's public key (PEM) as the secret,
// with the kid of that key.
func (i *Issuer) MintHMACWithPublicKey(c Claims) string {
	i.mu.Lock()
	k := i.published[0]
	i.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("idptest: encoding a key: %v", err))
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, i.claims(c))
	t.Header["kid"] = k.kid
	s, err := t.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		panic(fmt.Sprintf("idptest: signing: %v", err))
	}
	return s
}

// Tamper returns token with claims c changed in its payload and the
// original signature kept.
func Tamper(token string, c Claims) string {
	parts := strings.Split(token, ".")
	var payload map[string]any
	if len(parts) != 3 {
		panic("idptest: cannot tamper with this token")
	}
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &payload) != nil {
		panic("idptest: cannot tamper with this token")
	}
	for k, v := range c {
		payload[k] = v
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		panic("idptest: cannot tamper with this token")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}
